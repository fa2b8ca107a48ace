"""Two workers take two multiprocessing locks in opposite orders, as in the lock-ordering
deadlock, but the second lock is taken with a timeout: on failure a worker releases its first
lock, waits a little and tries again.  Both hold their first lock at once (so it looks stuck
for a while), then one backs off and both finish.

Rewritten from the fixes of superfastpython.com's "Multiprocessing deadlock" tutorial (use
timeouts on waits) and runebook.dev's notes on multiprocessing.Lock.acquire(timeout=...)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def update(first, second, mine, theirs, patience):
    while True:
        with first:
            if not mine.is_set():
                mine.set()
                theirs.wait()          # the first time, both hold their first lock
            if second.acquire(timeout=patience):
                try:
                    print("updated", flush=True)
                    return
                finally:
                    second.release()
        time.sleep(0.2)                # back off with nothing held, then try again


if __name__ == "__main__":
    index_lock, cache_lock = CTX.Lock(), CTX.Lock()
    indexer_in, evictor_in = CTX.Event(), CTX.Event()
    indexer = CTX.Process(target=update,
                          args=(index_lock, cache_lock, indexer_in, evictor_in, 3.0))
    evictor = CTX.Process(target=update,
                          args=(cache_lock, index_lock, evictor_in, indexer_in, 1.0))
    indexer.start()
    evictor.start()
    indexer.join()
    evictor.join()
