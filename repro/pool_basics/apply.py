"""Pool(3).apply() in a loop: three tasks of SECONDS each take 3 x SECONDS.

    python apply.py [SECONDS] [START_METHOD]

``apply()`` waits for its task's result before it returns, so the loop hands out one task at a
time and two of the three workers always sit idle: the run takes as many times longer as there
are workers.  Use ``apply_async()`` (apply_async.py) or ``map()`` (map.py) to run tasks at the
same time.
"""

import multiprocessing
import sys
import time


def task(msg, seconds):
    print(f"start {msg}", flush=True)
    time.sleep(seconds)
    print(f"end {msg}", flush=True)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    pool = ctx.Pool(processes=3)
    t0 = time.monotonic()
    for i in range(3):
        pool.apply(task, (f"hello {i}", seconds))  # blocks until this task is done
    print("all three tasks done", flush=True)
    pool.close()
    pool.join()
    elapsed = time.monotonic() - t0
    print(f"3 tasks of {seconds} s took {elapsed:.2f} s: they ran one after the other")


if __name__ == "__main__":
    main()
