"""Two workers update an index and a cache, each guarded by a multiprocessing.Lock.  The indexer
takes the index lock, then the cache lock; the evictor takes the cache lock, then the index
lock.  Once each holds its first lock, each waits for the other's for ever; the parent joins
them.

Rewritten from the lock-ordering deadlock of superfastpython.com's "Multiprocessing deadlock"
tutorial (processes that acquire mutex locks in different orders) and runebook.dev's notes on
multiprocessing.Lock.acquire (two processes, two locks, opposite orders)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def update(first, second, mine, theirs):
    with first:
        mine.set()
        theirs.wait()                  # both hold their first lock now
        with second:
            print("updated", flush=True)


if __name__ == "__main__":
    index_lock, cache_lock = CTX.Lock(), CTX.Lock()
    indexer_in, evictor_in = CTX.Event(), CTX.Event()
    indexer = CTX.Process(target=update, args=(index_lock, cache_lock, indexer_in, evictor_in))
    evictor = CTX.Process(target=update, args=(cache_lock, index_lock, evictor_in, indexer_in))
    indexer.start()
    evictor.start()
    indexer.join()
    evictor.join()
