"""The fix: the work is submitted and its results collected inside the with block; the pool
ends with the block."""

import multiprocessing as mp


def square(x):
    return x * x


if __name__ == "__main__":
    with mp.Pool(2) as pool:
        print(pool.map(square, range(8)))
