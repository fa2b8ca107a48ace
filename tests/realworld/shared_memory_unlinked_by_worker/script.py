"""The parent publishes a frame in a named SharedMemory block for a series of workers.  The
first worker "cleans up" after itself with close() and unlink(), as if it owned the block:
unlink() removes the name from /dev/shm, and the next worker's SharedMemory(name=...) fails
with FileNotFoundError.  The parent stops when the second worker fails.

Rewritten from tenstorrent/tt-inference-server#2802 (a process that only attached to the
segments removes /dev/shm/tt_video_in when it exits, while another process still uses them)
and mlcommons/storage#768 (shm.unlink() -> FileNotFoundError)."""
import multiprocessing as mp
import os
import sys
from multiprocessing import shared_memory

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def process_frame(name, n):
    shm = shared_memory.SharedMemory(name=name)
    print("worker", n, "read", bytes(shm.buf[:5]), flush=True)
    shm.close()
    shm.unlink()                       # BUG: the parent owns the block


if __name__ == "__main__":
    frame = shared_memory.SharedMemory(create=True, size=1 << 20)
    frame.buf[:5] = b"frame"
    try:
        for n in range(2):
            worker = CTX.Process(target=process_frame, args=(frame.name, n))
            worker.start()
            worker.join()
            if worker.exitcode != 0:
                sys.exit(f"worker {n} failed with exit code {worker.exitcode}")
    finally:
        frame.close()
