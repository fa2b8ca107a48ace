"""The fix for consumer_dies.py: the consumer handles a bad item and goes on; the producer
stops when it is told the consumer is done.

    python fix_consumer_survives.py [START_METHOD]
"""

import multiprocessing
import sys


def consume(q):
    shipped = bad = 0
    while True:
        line = q.get()
        if line is None:
            print(f"shipped {shipped}, skipped {bad} bad lines", flush=True)
            return
        try:
            line.split(",")[3]
            shipped += 1
        except IndexError:
            bad += 1  # report and go on instead of dying


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.Queue(maxsize=10)
    c = ctx.Process(target=consume, args=(q,))
    c.start()
    q.put("a,b,c,d")
    q.put("short,line")
    for n in range(100):
        q.put(f"{n},x,y,z")
    q.put(None)
    c.join()
