"""The fixes: tell the worker to stop before the end, and never leave unread data on a queue
whose reader is gone (here: the consumer reads what it is sent).

    python fix_stop_and_drain.py [START_METHOD]
"""

import multiprocessing
import queue
import sys


def work(inbox, outbox):
    while True:
        try:
            job = inbox.get(timeout=0.2)
        except queue.Empty:
            continue
        if job is None:
            return
        outbox.put(job * 2)


def consume(q, n):
    total = sum(len(q.get()) for _ in range(n))
    print("consumer read", total, "bytes", flush=True)


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    inbox, outbox = ctx.Queue(), ctx.Queue()
    w = ctx.Process(target=work, args=(inbox, outbox))
    w.start()
    for j in range(5):
        inbox.put(j)
    print("results:", sorted(outbox.get() for _ in range(5)), flush=True)
    inbox.put(None)  # the stop sentinel
    w.join()
    q = ctx.Queue()
    c = ctx.Process(target=consume, args=(q, 200))
    c.start()
    for i in range(200):
        q.put(b"\0" * 10_000)
    c.join()
    print("main: finished", flush=True)
