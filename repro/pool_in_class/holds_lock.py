"""An instance that holds a threading.Lock cannot be sent to a worker either.

    python holds_lock.py [START_METHOD]

``pool.map(self.f, ...)`` pickles ``self``; ``self.lock`` is a ``threading.Lock``, which only
means something inside one process: ``TypeError: cannot pickle '_thread.lock' object``.  The
same goes for files, sockets, generators, and objects holding any of these.  Fixes:
fix_function_attribute.py, fix_getstate.py.
"""

import multiprocessing
import sys
import threading


class SomeClass:
    def __init__(self, ctx):
        self.ctx = ctx
        self.lock = threading.Lock()  # guards some state of the parent's threads

    def f(self, x):
        return x * x

    def go(self):
        with self.ctx.Pool(processes=4) as pool:
            print(pool.map(self.f, range(10)))  # raises: self.lock cannot be pickled


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    SomeClass(multiprocessing.get_context(method)).go()


if __name__ == "__main__":
    main()
