"""Exits 0, but an item was lost: the child puts an object holding a lock and returns; the
queue's feeder thread drops it (printing nothing if the child is already exiting)."""

import multiprocessing
import sys
import threading


class Result:
    def __init__(self):
        self.lock = threading.Lock()


def produce(q):
    q.put(Result())


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.Queue()
    p = ctx.Process(target=produce, args=(q,))
    p.start()
    p.join()
    print("child exit code", p.exitcode)
