"""Fix: let a Pool hand the results back; its own thread reads them as they come.

    python fix_pool.py [N] [START_METHOD]

Each task returns the item instead of putting it on a queue.  ``Pool`` reads the workers'
results in a thread of the parent (the result handler) all the time, so the pipe never fills up,
and ``map()`` returns the items in the order of the inputs.
"""

import multiprocessing
import sys

CHILDREN = 10


def make_item(n):
    return ["hello", n * "ss"]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(CHILDREN) as pool:
        items = pool.map(make_item, [n] * CHILDREN)
    print(f"received {len(items)} items of {len(items[0][1])} characters each")


if __name__ == "__main__":
    main()
