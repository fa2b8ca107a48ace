"""The fix: workers only close() the block; the parent, which created it, unlinks it once
every worker is done."""

import multiprocessing as mp
import sys
from multiprocessing import shared_memory


def worker(name, index):
    block = shared_memory.SharedMemory(name=name)
    block.buf[index] = index
    block.close()


if __name__ == "__main__":
    block = shared_memory.SharedMemory(create=True, size=16)
    try:
        for index in range(2):
            p = mp.Process(target=worker, args=(block.name, index))
            p.start()
            p.join()
            if p.exitcode != 0:
                sys.exit(f"worker {index} failed with exit code {p.exitcode}")
        print(list(block.buf[:2]))
    finally:
        block.close()
        block.unlink()
