"""Fix: leave what cannot be pickled out of the instance's pickled state (__getstate__).

    python fix_getstate.py [START_METHOD]

The instance keeps its pool and its lock for the parent's use, and ``__getstate__`` tells pickle
to send everything else.  The copy a worker receives has no pool and no lock, which is right:
a worker must not use the parent's pool, and a lock copied into another process would guard
nothing.
"""

import multiprocessing
import sys
import threading


class SomeClass:
    def __init__(self, ctx):
        self.factor = 1
        self.lock = threading.Lock()
        self.pool = ctx.Pool(processes=4)

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["pool"], state["lock"]  # process-local: not sent to the workers
        return state

    def f(self, x):
        return self.factor * x * x

    def go(self):
        try:
            print(self.pool.map(self.f, range(10)))
        finally:
            self.pool.close()
            self.pool.join()


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    SomeClass(multiprocessing.get_context(method)).go()


if __name__ == "__main__":
    main()
