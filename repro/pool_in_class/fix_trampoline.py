"""Fix with the fewest changes: a module-level trampoline that calls the method.

    python fix_trampoline.py [START_METHOD]

``call_f(client, x)`` lives at module level and calls ``client.f(x)``; the class hands it
``(self, i)``.  In Python 2 this avoided pickling a bound method.  It still pickles ``self``,
so the instance must be picklable: with a pool or a lock on it, ``get()`` raises the same error
as holds_pool.py or holds_lock.py.
"""

import multiprocessing
import sys


def call_f(client, x):
    return client.f(x)


class SomeClass:
    def __init__(self, ctx):
        self.ctx = ctx

    def f(self, x):
        return x * x

    def go(self):
        pool = self.ctx.Pool(processes=4)
        results = [pool.apply_async(call_f, (self, i)) for i in range(10)]
        pool.close()
        pool.join()
        print([res.get(timeout=10) for res in results])


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    SomeClass(multiprocessing.get_context(method)).go()


if __name__ == "__main__":
    main()
