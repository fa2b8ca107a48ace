"""The fix: the function is defined at module level, where a spawned child finds it when it
imports the main module; only the code that starts processes stays under the guard."""

import multiprocessing as mp
import sys


def resize(path):
    print("resizing", path)


if __name__ == "__main__":
    p = mp.get_context("spawn").Process(target=resize, args=("photo.jpg",))
    p.start()
    p.join()
    if p.exitcode != 0:
        sys.exit(f"resize failed with exit code {p.exitcode}")
