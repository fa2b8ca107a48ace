"""Hangs: the consumer forgets task_done() for some items, so JoinableQueue.join() never ends.

    python task_done_missing.py [START_METHOD]
"""

import multiprocessing
import sys


def consume(q):
    while True:
        item = q.get()
        if item is None:
            q.task_done()
            return
        if item % 5 == 0:
            continue  # BUG: this path forgets task_done()
        q.task_done()


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.JoinableQueue()
    c = ctx.Process(target=consume, args=(q,), daemon=True)
    c.start()
    for i in range(20):
        q.put(i)
    q.put(None)
    q.join()
    print("all items processed")
