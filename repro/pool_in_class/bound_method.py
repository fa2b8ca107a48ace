"""A Pool inside a class, mapping a bound method: fine in Python 3.

    python bound_method.py [START_METHOD]

``pool.map(self.f, ...)`` must pickle ``self.f`` to send it to the workers.  Python 2 could not
pickle a bound method at all ("Can't pickle <type 'instancemethod'>").  Python 3 pickles it as
"the instance, and the name of the method", so this works as long as the instance itself can be
pickled.  holds_pool.py and holds_lock.py show when it cannot.
"""

import multiprocessing
import sys


class SomeClass:
    def __init__(self, ctx):
        self.ctx = ctx  # a context pickles fine

    def f(self, x):
        return x * x

    def go(self):
        with self.ctx.Pool(processes=4) as pool:
            print(pool.map(self.f, range(10)))


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    SomeClass(multiprocessing.get_context(method)).go()


if __name__ == "__main__":
    main()
