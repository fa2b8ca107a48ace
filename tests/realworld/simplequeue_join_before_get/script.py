"""Workers return their parsed pages through a multiprocessing.SimpleQueue.  Unlike Queue,
SimpleQueue has no feeder thread: put() writes into the pipe itself and blocks while the
pipe is full.  A page larger than 64 KiB therefore blocks the worker in put(), and the
parent, which joins every worker before it reads the queue, never reads it.

Rewritten from python/cpython#85722 ("SimpleQueue's put blocks if fed with strings greater
than 2**16-13 chars"; closed as expected behaviour of the pipe)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def parse(page_no, results):
    text = "lorem ipsum " * 20000          # 240 KB of extracted text
    results.put((page_no, text))


if __name__ == "__main__":
    results = CTX.SimpleQueue()
    workers = [CTX.Process(target=parse, args=(n, results)) for n in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()                           # BUG: join before get
    pages = [results.get() for _ in workers]
    print("parsed", len(pages), "pages")
