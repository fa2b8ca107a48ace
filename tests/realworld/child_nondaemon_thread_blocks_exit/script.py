"""A worker process starts a log-shipping thread that forwards records from a queue.Queue
until it receives a None sentinel.  The worker returns without sending the sentinel.  Since
Python 3.7 a multiprocessing child joins its non-daemon threads before it exits, so the
worker waits for the shipper, the shipper waits for a record, and the parent waits for the
worker.

Rewritten from python/cpython PR #3111 (bpo-18966: non-daemonic threads created by a
multiprocessing.Process are joined on exit) and redis/redis-py#576 (the process hangs at
exit on a worker thread that nobody stopped)."""
import multiprocessing as mp
import os
import queue
import threading

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def ship(records):
    shipped = 0
    for record in iter(records.get, None):
        shipped += len(record)          # would send the record to the log server


def worker(n):
    records = queue.Queue()
    threading.Thread(target=ship, args=(records,), name="log-shipper").start()
    for i in range(n):
        records.put(f"processed item {i}")
    print("worker done", flush=True)
    # BUG: records.put(None) is missing


if __name__ == "__main__":
    proc = CTX.Process(target=worker, args=(5,))
    proc.start()
    proc.join()
    print("finished")
