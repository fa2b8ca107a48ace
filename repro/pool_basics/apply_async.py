"""Pool(3).apply_async() in a loop: three tasks of SECONDS each take about SECONDS in all.

    python apply_async.py [SECONDS] [START_METHOD]

``apply_async()`` queues the task and returns at once, so the loop hands out all three tasks
before any has finished and the pool's three workers run them at the same time.  ``close()``
says no more tasks will come; ``join()`` then waits for the workers to finish and exit.
``join()`` before ``close()`` (or ``terminate()``) raises ``ValueError``.
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
        pool.apply_async(task, (f"hello {i}", seconds))  # returns at once
    print("all three tasks handed out", flush=True)
    pool.close()  # no more tasks
    pool.join()  # wait for the workers to finish the tasks and exit
    elapsed = time.monotonic() - t0
    print(f"3 tasks of {seconds} s took {elapsed:.2f} s: they ran in parallel")


if __name__ == "__main__":
    main()
