"""Fix: a Manager().Queue() keeps the items in the manager's process, not in a pipe.

    python fix_manager_queue.py [N] [START_METHOD]

Same children and items as seed_hang.py, and the parent still joins before it reads, but the
queue is a proxy to a ``queue.Queue`` living in the manager's server process.  ``put()`` is a
round trip to that process and returns once the item is stored there: the child has nothing
left to flush and exits at once.  The price: every put and get is a message to another process.
"""

import multiprocessing
import sys

CHILDREN = 10


def put_one(q, n):
    q.put(["hello", n * "ss"])  # returns when the manager has stored the item


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    with ctx.Manager() as manager:
        q = manager.Queue()
        children = [ctx.Process(target=put_one, args=(q, n)) for _ in range(CHILDREN)]
        for p in children:
            p.start()
        for p in children:
            p.join()  # returns: nothing of the items is waiting in a pipe
        items = [q.get() for _ in children]
    print(f"received {len(items)} items of {len(items[0][1])} characters each")


if __name__ == "__main__":
    main()
