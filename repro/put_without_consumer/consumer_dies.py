"""Hangs: a producer fills a bounded Queue(maxsize=10) after its consumer crashed on bad input.

    python consumer_dies.py [START_METHOD]
"""

import multiprocessing
import sys


def consume(q):
    while True:
        line = q.get()
        print("shipping", line.split(",")[3], flush=True)  # IndexError on a short line


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.Queue(maxsize=10)
    c = ctx.Process(target=consume, args=(q,))
    c.start()
    q.put("a,b,c,d")
    q.put("short,line")
    for n in range(100):
        q.put(f"{n},x,y,z")  # blocks forever once 10 are queued
    print("all lines queued")
    c.join()
