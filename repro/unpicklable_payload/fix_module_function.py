"""The fix for lambda_target.py: a module-level function, pickled by its importable name.

    python fix_module_function.py [START_METHOD]
"""

import multiprocessing
import sys


def child():
    print("child runs", flush=True)


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    p = ctx.Process(target=child)
    p.start()
    p.join()
    print("exit code", p.exitcode)
