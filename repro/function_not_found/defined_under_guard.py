"""The target function is defined inside `if __name__ == "__main__":`.  Under spawn (and
forkserver, the default on Linux from Python 3.14) the child imports the main module as
__mp_main__, where the guarded block does not run: the function does not exist there, and the
child fails unpickling its process object."""

import multiprocessing as mp
import sys

if __name__ == "__main__":
    def resize(path):
        print("resizing", path)

    p = mp.get_context("spawn").Process(target=resize, args=("photo.jpg",))
    p.start()
    p.join()
    if p.exitcode != 0:
        sys.exit(f"resize failed with exit code {p.exitcode}")
