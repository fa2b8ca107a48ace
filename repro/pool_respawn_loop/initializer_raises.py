"""A Pool whose initializer raises: every worker dies as it starts, the pool's worker handler
replaces it, the replacement dies the same way, and map() waits for ever for tasks no worker
lives to run."""

import multiprocessing as mp
import sys


def connect():
    raise ConnectionError("could not reach the cache at cache.invalid:6379")


def lookup(key):
    return key.upper()


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    with ctx.Pool(2, initializer=connect) as pool:
        print(pool.map(lookup, ["a", "b", "c"]))
