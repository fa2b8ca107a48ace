"""A helper creates a Pool in a `with` block and returns it.  Leaving the block terminated
the pool, so the caller's map() raises ValueError: Pool not running."""

import multiprocessing as mp


def square(x):
    return x * x


def make_pool():
    with mp.Pool(2) as pool:
        return pool                      # the with block terminates the pool on the way out


if __name__ == "__main__":
    pool = make_pool()
    print(pool.map(square, range(8)))
