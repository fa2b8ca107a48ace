"""Deadlock: the child puts an object holding a lock (the feeder drops it) and returns; the
parent then waits in get() forever."""

import multiprocessing
import sys
import threading


class Result:
    def __init__(self):
        self.value = 42
        self.lock = threading.Lock()


def produce(q):
    q.put(Result())


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.Queue()
    p = ctx.Process(target=produce, args=(q,))
    p.start()
    p.join()
    print(q.get().value)
