"""Starts a Pool at module level, with the interpreter's default start method: fine under fork
(up to Python 3.13 on Linux), a missing-main-guard under forkserver (the default from 3.14)."""
import multiprocessing


def square(x):
    return x * x


pool = multiprocessing.Pool(2)
print(pool.map(square, range(10)))
pool.close()
pool.join()
