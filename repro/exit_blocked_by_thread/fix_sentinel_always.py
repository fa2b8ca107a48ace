"""The fix: the parent, not a worker, sends the collector's stop sentinel once every worker has
ended, whatever they did, and joins the collector."""

import multiprocessing as mp
import sys
import threading


def collect(results, store):
    for item in iter(results.get, None):
        store.append(item)


def work(n, results):
    if n == 2:
        raise RuntimeError("bad input in the last chunk")
    results.put(n * n)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    results = ctx.Queue()
    store = []
    workers = [ctx.Process(target=work, args=(n, results)) for n in range(3)]
    for w in workers:  # the processes first, then the thread (see fork-with-threads)
        w.start()
    collector = threading.Thread(target=collect, args=(results, store), name="collector")
    collector.start()
    try:
        for w in workers:
            w.join()
    finally:
        results.put(None)                  # always: the collector stops
        collector.join()
    print("collected", sorted(store), "exit codes", sorted(w.exitcode for w in workers))
