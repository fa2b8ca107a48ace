"""A task is submitted with apply_async() inside `with Pool() as pool:`, and its result is
read after the block.  Leaving the block calls terminate(): the worker running the task is
killed and the AsyncResult is never told, so get() without a timeout waits forever.

Rewritten from python/cpython#126743 ("multiprocessing async .get() hangs if the pool is
terminated", still open on 3.12-3.14; same as gh-79659)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)
_started = None


def init(started):
    global _started
    _started = started


def slow_square(x):
    _started.set()
    time.sleep(30)                     # still running when the block ends
    return x * x


if __name__ == "__main__":
    started = CTX.Event()
    with CTX.Pool(2, initializer=init, initargs=(started,)) as pool:
        result = pool.apply_async(slow_square, (7,))
        started.wait()
    print("square:", result.get())     # the pool was terminated: never returns
