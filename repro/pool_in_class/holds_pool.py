"""A Pool kept on the instance: mapping a bound method fails to pickle the instance.

    python holds_pool.py [START_METHOD]

``pool.map(self.f, ...)`` pickles ``self`` with the method, and ``self.pool`` with it; a pool
refuses: ``NotImplementedError: pool objects cannot be passed between processes or pickled``.
``map()`` raises it in the parent (the script exits with status 1).  Fixes:
fix_function_attribute.py, fix_getstate.py.
"""

import multiprocessing
import sys


class SomeClass:
    def __init__(self, ctx):
        self.pool = ctx.Pool(processes=4)

    def f(self, x):
        return x * x

    def go(self):
        try:
            print(self.pool.map(self.f, range(10)))  # raises: self.pool cannot be pickled
        finally:
            self.pool.terminate()
            self.pool.join()


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    SomeClass(multiprocessing.get_context(method)).go()


if __name__ == "__main__":
    main()
