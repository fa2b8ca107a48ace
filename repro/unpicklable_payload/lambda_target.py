"""Fails under spawn and forkserver, works under fork: a lambda as a Process target.

    python lambda_target.py [START_METHOD]
"""

import multiprocessing
import sys

if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    p = ctx.Process(target=lambda: print("child runs"))
    p.start()
    p.join()
    print("exit code", p.exitcode)
