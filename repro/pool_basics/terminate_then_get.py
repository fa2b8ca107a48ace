"""A pitfall: get() on the result of a task that terminate() dropped waits forever.

    python terminate_then_get.py [START_METHOD]

The task is still running when ``terminate()`` kills the pool's workers.  Its ``AsyncResult``
will never be filled in, and nothing tells it so: ``get()`` without a timeout waits forever (the
same happens after leaving ``with Pool() as pool:``, which calls ``terminate()``).  Take every
result you need before terminating, or use ``get(timeout)``; terminate.py does both.
"""

import multiprocessing
import sys
import time


def task(seconds):
    time.sleep(seconds)
    return seconds


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    ctx = multiprocessing.get_context(method)
    pool = ctx.Pool(processes=2)
    result = pool.apply_async(task, (60,))
    pool.terminate()  # kills the workers: the task is dropped
    pool.join()
    print("pool terminated; waiting for the result...", flush=True)
    print(result.get())  # hangs: no one will ever set this result


if __name__ == "__main__":
    main()
