"""Deadlock: the only producer raises before it puts; the parent get()s without a timeout."""

import multiprocessing
import sys


def produce(q):
    raise ValueError("the producer fails before it puts anything")


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.Queue()
    p = ctx.Process(target=produce, args=(q,))
    p.start()
    print(q.get())
    p.join()
