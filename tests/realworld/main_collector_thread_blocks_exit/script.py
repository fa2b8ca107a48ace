"""The parent collects results in a non-daemon thread that reads a multiprocessing.Queue
until it gets a None; the last worker is supposed to send that None.  That worker fails
before it does.  The main thread joins the workers, prints its summary and returns, and the
interpreter then waits at exit for the collector thread, which waits for a result that no
process will ever put.

Rewritten from redis/redis-py#576 (the Python process hangs at exit on a thread that was not
stopped) and avierstr/amplicon_sorter#26 (an exception leaves the consumer thread blocked
and the program never ends)."""
import multiprocessing as mp
import os
import threading

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def collect(results, store):
    for item in iter(results.get, None):
        store.append(item)


def work(n, results, last):
    if last:
        raise RuntimeError("bad input in the last chunk")   # dies before the None
    results.put(n * n)


if __name__ == "__main__":
    results = CTX.Queue()
    store = []
    threading.Thread(target=collect, args=(results, store), name="collector").start()
    workers = [CTX.Process(target=work, args=(n, results, n == 2)) for n in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print("workers finished", [w.exitcode for w in workers], flush=True)
