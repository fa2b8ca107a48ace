"""Works with every start method: the task's function is defined at module level, where a
worker that imports this file finds it; only the code that starts the pool is under the guard.

    python fix_function_at_module_level.py [START_METHOD]      (default: spawn)
"""

import multiprocessing
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else "spawn")
    with ctx.Pool(2) as pool:
        print(pool.map(square, range(8)))
