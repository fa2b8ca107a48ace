"""The fix: the work a task handed to a helper process is done in the task itself, so the
pool's workers start nothing; the parallelism is the pool's (the work is flattened into one
map)."""

import multiprocessing as mp


def half(x):
    return x / 2


if __name__ == "__main__":
    with mp.Pool(2) as pool:
        print(pool.map(half, range(4)))
