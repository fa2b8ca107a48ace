"""Pool.terminate(): stop the workers now; tasks not yet finished are dropped.

    python terminate.py [SECONDS] [START_METHOD]

Six tasks of SECONDS on three workers: the first three finish, then ``terminate()`` kills the
workers in the middle of the next three.  ``close()`` lets queued tasks finish; ``terminate()``
does not.  Either one must come before ``join()``.  A result whose task was dropped never
arrives: ``get()`` on it without a timeout would wait forever, so ask with a timeout, or check
``ready()``.
"""

import multiprocessing
import sys
import time


def task(i, seconds):
    time.sleep(seconds)
    return i


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    pool = ctx.Pool(processes=3)
    try:
        pool.join()
    except ValueError as err:
        print(f"join() before close() or terminate(): ValueError: {err}")
    results = [pool.apply_async(task, (i, seconds)) for i in range(6)]
    for res in results[:3]:
        res.get(timeout=60)  # the first three are done; the next three have just started
    pool.terminate()  # kill the workers now
    pool.join()
    done = [res.get(0) for res in results if res.ready()]
    print(f"finished before terminate(): tasks {done}; "
          f"{len(results) - len(done)} of {len(results)} never ran to the end")


if __name__ == "__main__":
    main()
