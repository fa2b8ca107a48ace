"""Each Pool task starts a helper Process for part of its work.  Pool workers are daemonic,
and daemonic processes may not have children: every task raises AssertionError, which map()
re-raises in the parent."""

import multiprocessing as mp


def half(x, out):
    out.put(x / 2)


def task(x):
    out = mp.Queue()
    helper = mp.Process(target=half, args=(x, out))   # AssertionError in a Pool worker
    helper.start()
    value = out.get()
    helper.join()
    return value


if __name__ == "__main__":
    with mp.Pool(2) as pool:
        print(pool.map(task, range(4)))
