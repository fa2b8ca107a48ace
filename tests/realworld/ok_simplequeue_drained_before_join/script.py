"""Control (finishes): workers put 240 KB pages on a SimpleQueue and block in put() until
the parent reads; the parent reads every page first and joins afterwards.

The fixed form of python/cpython#85722 (SimpleQueue.put blocks on items larger than the
pipe until someone reads)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def parse(page_no, results):
    results.put((page_no, "lorem ipsum " * 20000))


if __name__ == "__main__":
    results = CTX.SimpleQueue()
    workers = [CTX.Process(target=parse, args=(n, results)) for n in range(4)]
    for w in workers:
        w.start()
    pages = [results.get() for _ in workers]   # drain first
    for w in workers:
        w.join()
    print("parsed", sorted(n for n, _ in pages))
