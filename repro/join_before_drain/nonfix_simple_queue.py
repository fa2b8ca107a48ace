"""Not a fix: SimpleQueue has no feeder thread, so the hang moves into put() itself.

    python nonfix_simple_queue.py [N] [START_METHOD]

``SimpleQueue.put()`` pickles the item and writes it into the pipe in the calling thread.  A
child whose item does not fit blocks in ``put()``, while the parent waits in ``join()``: the
same deadlock as seed_hang.py, one frame earlier.  N = 2000 works, N = 20000 (the default) hangs.
"""

import multiprocessing
import sys

CHILDREN = 10


def put_one(q, n):
    q.put(["hello", n * "ss"])  # blocks here when the pipe is full


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    q = ctx.SimpleQueue()
    children = [ctx.Process(target=put_one, args=(q, n)) for _ in range(CHILDREN)]
    for p in children:
        p.start()
    for p in children:
        p.join()  # hangs: a child is stuck in put()
    items = [q.get() for _ in children]
    print(f"received {len(items)} items of {len(items[0][1])} characters each")


if __name__ == "__main__":
    main()
