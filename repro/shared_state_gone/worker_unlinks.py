"""The parent shares a SharedMemory block by name; the first worker calls unlink() when it is
done, which removes the name for everyone: the next worker's SharedMemory(name=...) raises
FileNotFoundError."""

import multiprocessing as mp
import sys
from multiprocessing import shared_memory


def worker(name, index):
    block = shared_memory.SharedMemory(name=name)
    block.buf[index] = index
    block.close()
    block.unlink()                       # BUG: only the creator should unlink


if __name__ == "__main__":
    block = shared_memory.SharedMemory(create=True, size=16)
    try:
        for index in range(2):           # one after the other: the second finds no block
            p = mp.Process(target=worker, args=(block.name, index))
            p.start()
            p.join()
            if p.exitcode != 0:
                sys.exit(f"worker {index} failed with exit code {p.exitcode}")
    finally:
        block.close()
        try:
            block.unlink()
        except FileNotFoundError:
            pass
