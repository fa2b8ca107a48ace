"""Never ends under spawn: a Pool is created at module level, without a __main__ guard."""

import multiprocessing

multiprocessing.set_start_method("spawn", force=True)


def square(x):
    return x * x


pool = multiprocessing.Pool(2)
print(pool.map(square, range(3)))
pool.close()
pool.join()
