"""The fix for producer_dies.py: the producer always puts something, its result or its error.

    python fix_always_put.py [START_METHOD]
"""

import multiprocessing
import sys


def produce(q):
    try:
        raise ValueError("the producer fails before it puts anything")
    except Exception as err:  # report the failure instead of dying silently
        q.put(("error", repr(err)))
    else:
        q.put(("ok", 42))


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.Queue()
    p = ctx.Process(target=produce, args=(q,))
    p.start()
    status, value = q.get()
    p.join()
    print(status, value)
