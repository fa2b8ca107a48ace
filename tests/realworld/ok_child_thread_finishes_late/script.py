"""Control (finishes): a worker's main code returns at once, but its non-daemon upload
thread needs 3 s more.  The worker's exit waits for the thread (bpo-18966), the parent
waits for the worker, and both end when the upload is done.

The benign form of python/cpython PR #3111 (bpo-18966: non-daemonic threads created by a
multiprocessing.Process are joined on exit)."""
import multiprocessing as mp
import os
import threading
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def upload():
    time.sleep(3)
    print("upload finished", flush=True)


def worker():
    threading.Thread(target=upload, name="uploader").start()
    print("worker returned", flush=True)


if __name__ == "__main__":
    proc = CTX.Process(target=worker)
    proc.start()
    proc.join()
    print("all done")
