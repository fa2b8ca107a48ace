"""A non-daemon thread collects results from a multiprocessing.Queue until it gets None; the
worker that should send the None fails first.  The main program finishes, and the interpreter
waits at exit for the collector thread, which waits for a result nobody will ever put."""

import multiprocessing as mp
import sys
import threading


def collect(results, store):
    for item in iter(results.get, None):
        store.append(item)


def work(n, results):
    if n == 2:
        raise RuntimeError("bad input in the last chunk")    # dies before sending the None
    results.put(n * n)
    if n == 2:
        results.put(None)                 # the last chunk ends the collection (never reached)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    results = ctx.Queue()
    store = []
    workers = [ctx.Process(target=work, args=(n, results)) for n in range(3)]
    for w in workers:  # the processes first, then the thread (see fork-with-threads)
        w.start()
    threading.Thread(target=collect, args=(results, store), name="collector").start()
    for w in workers:
        w.join()
    print("workers finished", sorted(w.exitcode for w in workers), flush=True)
