"""Fix: concurrent.futures.ProcessPoolExecutor returns the results as futures.

    python fix_executor.py [N] [START_METHOD]

Like fix_pool.py: the task returns the item, and the executor's management thread in the
parent reads the results pipe continuously.  ``with`` shuts the executor down and waits for its
workers after every result has been read.
"""

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor

CHILDREN = 10


def make_item(n):
    return ["hello", n * "ss"]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=CHILDREN, mp_context=ctx) as executor:
        items = list(executor.map(make_item, [n] * CHILDREN))
    print(f"received {len(items)} items of {len(items[0][1])} characters each")


if __name__ == "__main__":
    main()
