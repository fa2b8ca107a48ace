"""The fix for worker_exits.py: concurrent.futures.ProcessPoolExecutor notices the dead worker
and raises BrokenProcessPool instead of waiting forever.

    python fix_process_pool_executor.py [START_METHOD]
"""

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool


def work(x):
    if x == 3:
        os._exit(1)
    return x * x


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        try:
            print(list(pool.map(work, range(8))))
        except BrokenProcessPool as err:
            print("a worker died:", err)
