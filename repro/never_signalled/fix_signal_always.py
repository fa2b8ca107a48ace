"""The fix for both cases: signal on every path.  The server sets `ready` in a finally block
(and reports its failure), the consumer calls task_done() in a finally block.

    python fix_signal_always.py [START_METHOD]
"""

import multiprocessing
import sys


def serve(ready, errors):
    try:
        raise OSError("cannot bind the port")
    except OSError as err:
        errors.put(repr(err))
    finally:
        ready.set()


def consume(q):
    while True:
        item = q.get()
        try:
            if item is None:
                return
        finally:
            q.task_done()


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    ready, errors = ctx.Event(), ctx.Queue()
    p = ctx.Process(target=serve, args=(ready, errors))
    p.start()
    ready.wait()
    print("server failed:", errors.get())
    p.join()
    q = ctx.JoinableQueue()
    c = ctx.Process(target=consume, args=(q,), daemon=True)
    c.start()
    for i in range(20):
        q.put(i)
    q.put(None)
    q.join()
    print("all items processed")
