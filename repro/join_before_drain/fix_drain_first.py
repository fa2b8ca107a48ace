"""The fix for seed_hang.py: read every item first, then join the children.

    python fix_drain_first.py [N] [START_METHOD]

A child that has put data on a Queue cannot exit until its feeder thread has written all of it
into the queue's pipe.  Reading the items first empties the pipe, so every child can finish, and
the joins return at once, whatever the size of the items.
"""

import multiprocessing
import sys

CHILDREN = 10


def put_one(q, n):
    q.put(["hello", n * "ss"])


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue()
    children = [ctx.Process(target=put_one, args=(q, n)) for _ in range(CHILDREN)]
    for p in children:
        p.start()
    items = [q.get() for _ in children]  # drain first: one get() per item put
    for p in children:
        p.join()  # now every child can exit
    print(f"received {len(items)} items of {len(items[0][1])} characters each")


if __name__ == "__main__":
    main()
