"""A multiprocessing.Queue for progress messages is passed as an argument to a
ProcessPoolExecutor task.  A Queue can only be given to a process when it is created
(inheritance), not sent through another queue: pickling it for the call raises
RuntimeError("Queue objects should only be shared between processes through inheritance"),
which future.result() raises in the parent.

Rewritten from dongzhang0725/PhyloSuite#129 (RuntimeError: Queue objects should only be
shared between processes through inheritance, from a Pool task) and metomi/rose#1281 (the
same RuntimeError; fixed by using a Manager().Queue())."""
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def extract(path, progress):
    progress.put(f"extracting {path}")
    return path.upper()


if __name__ == "__main__":
    progress = CTX.Queue()
    with ProcessPoolExecutor(max_workers=2, mp_context=CTX) as pool:
        future = pool.submit(extract, "genes.gb", progress)
        print(future.result())
