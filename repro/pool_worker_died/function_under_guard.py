"""Hangs under spawn and forkserver (the default from Python 3.14): the task's function is
defined under `if __name__ == "__main__":`, so a worker, which imports this file as
`__mp_main__`, cannot find it; the worker dies unpickling its task, and pool.map() waits forever.

    python function_under_guard.py [START_METHOD]      (default: spawn)
"""

import multiprocessing
import sys

if __name__ == "__main__":
    def square(x):
        return x * x

    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else "spawn")
    with ctx.Pool(2) as pool:
        print(pool.map(square, range(8)))
