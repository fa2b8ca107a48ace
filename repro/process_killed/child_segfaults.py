"""A child calls into native code (here ctypes) with an invalid pointer and is killed by
SIGSEGV: no traceback, no message.  The parent sees exit code -11 and gives up."""

import ctypes
import multiprocessing as mp
import sys


def checksum(address):
    data = ctypes.string_at(address)       # a NULL pointer: the child is killed by SIGSEGV
    print("checksum", sum(data))


if __name__ == "__main__":
    p = mp.Process(target=checksum, args=(0,))
    p.start()
    p.join()
    if p.exitcode != 0:
        sys.exit(f"checksum worker failed with exit code {p.exitcode}")
