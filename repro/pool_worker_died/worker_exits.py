"""Hangs: a Pool task calls os._exit(); Pool replaces the worker, the task is lost, and
pool.map() waits forever.

    python worker_exits.py [START_METHOD]
"""

import multiprocessing
import os
import sys


def work(x):
    if x == 3:
        os._exit(1)  # stands for native code calling exit(), a signal, the OOM killer
    return x * x


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    with ctx.Pool(2) as pool:
        print(pool.map(work, range(8)))
