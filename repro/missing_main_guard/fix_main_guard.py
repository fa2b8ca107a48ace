"""The fix for no_main_guard.py: start processes only under `if __name__ == "__main__":`.

    python fix_main_guard.py
"""

import multiprocessing


def square(x):
    return x * x


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    with multiprocessing.Pool(2) as pool:
        print(pool.map(square, range(3)))
