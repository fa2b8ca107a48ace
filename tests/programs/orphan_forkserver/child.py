"""Uses a forkserver Pool whose preloaded module makes the forkserver's exit slow."""

import multiprocessing
import os
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    os.environ["SLOW_EXIT_SECONDS"] = sys.argv[1] if len(sys.argv) > 1 else "3"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["slow_exit"])
    with ctx.Pool(2) as pool:
        print(sum(pool.map(square, range(10))))
