"""Fix: give the class a module-level function, and map that instead of a method.

    python fix_function_attribute.py [START_METHOD]

A module-level function is pickled by reference (module and name), without any instance, so
what the instance holds no longer matters: here it keeps its pool on ``self.pool`` and still
works.  The work must not need ``self``.
"""

import multiprocessing
import sys


def square(x):
    return x * x


class SomeClass:
    def __init__(self, ctx, func):
        self.pool = ctx.Pool(processes=4)
        self.f = func  # a plain function stored on the instance: self.f is not a bound method

    def go(self):
        try:
            print(self.pool.map(self.f, range(10)))
        finally:
            self.pool.close()
            self.pool.join()


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    SomeClass(multiprocessing.get_context(method), square).go()


if __name__ == "__main__":
    main()
