"""Pool.map() and Pool.map_async(): one function over many inputs, results in input order.

    python map.py [START_METHOD]

``map()`` blocks until every result is in.  It first turns the input into a list, so a
generator is consumed whole before the first task runs (``imap()`` takes it lazily).
``map_async()`` returns at once with an ``AsyncResult``; its ``callback`` runs in the parent
when all results are in, and ``get()`` returns them.
"""

import multiprocessing
import sys


def square(x):
    return x * x


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(processes=3) as pool:
        print("map:      ", pool.map(square, range(10)))
        pending = pool.map_async(square, range(10, 20),
                                 callback=lambda r: print("callback: ", r, flush=True))
        print("map_async returned at once", flush=True)
        print("get():    ", pending.get(timeout=60))
        print("imap:     ", list(pool.imap(square, (x for x in range(5)))))
    # leaving "with" calls terminate(): every result we need was already taken


if __name__ == "__main__":
    main()
