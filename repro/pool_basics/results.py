"""Results from a Pool: apply_async() returns an AsyncResult; get() gives the task's value.

    python results.py [SECONDS] [START_METHOD]

Keep the ``AsyncResult`` objects, and call ``get()`` on each: it waits for that task if needed
and returns its value, or raises the exception the task raised (here the third task fails on
purpose).  ``get(timeout)`` raises ``multiprocessing.TimeoutError`` instead of waiting forever.
"""

import multiprocessing
import sys
import time


def task(msg, seconds):
    time.sleep(seconds)
    if msg.endswith("2"):
        raise ValueError(f"cannot handle {msg!r}")
    return "done " + msg


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    pool = ctx.Pool(processes=4)
    results = [pool.apply_async(task, (f"hello {i}", seconds)) for i in range(3)]
    pool.close()
    pool.join()  # the results are kept by the parent: get() works after the workers exited
    for res in results:
        try:
            print("result:", res.get(timeout=10))
        except ValueError as err:
            print("the task raised:", repr(err))


if __name__ == "__main__":
    main()
