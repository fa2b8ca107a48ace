"""Processes each running a thread pool, for work that mixes waiting and computing.

    python hybrid.py [--items N] [--wait S] [--cpu S] [--threads T] [--processes P]
                     [START_METHOD]

Each item waits WAIT seconds (a network call, say) and then computes for CPU seconds.  The
same items are run four ways, and the time of each is printed:

* one by one: every wait and every computation in turn;
* processes only (P workers, one item at a time each): the computations use every core, but
  only P waits overlap;
* threads only (T threads in one process): all the waits overlap, but the computations take
  turns on the one GIL, so they use one core;
* P processes with T threads each, every process handling one P-th of the items: the waits
  overlap and the computations spread over the cores.

With the defaults (40 items, 20 ms of waiting and 10 ms of computing each) the hybrid is the
fastest as soon as there are 2 cores or more; how much faster depends on the machine.
"""

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def handle(item, wait, cpu):
    time.sleep(wait)  # waiting: releases the GIL
    end = time.thread_time() + cpu
    while time.thread_time() < end:  # computing: holds the GIL
        pass
    return item


def handle_chunk(chunk, wait, cpu, threads):
    """What each process of the hybrid does: its share of the items, on a thread pool."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(handle, chunk, [wait] * len(chunk), [cpu] * len(chunk)))


def serial(items, a, ctx):
    return [handle(i, a.wait, a.cpu) for i in items]


def processes_only(items, a, ctx):
    with ProcessPoolExecutor(a.processes, mp_context=ctx) as pool:
        return list(pool.map(handle, items, [a.wait] * len(items), [a.cpu] * len(items)))


def threads_only(items, a, ctx):
    return handle_chunk(items, a.wait, a.cpu, a.threads)


def hybrid(items, a, ctx):
    chunks = [items[k::a.processes] for k in range(a.processes)]
    procs = ctx.Pool(a.processes)
    try:
        parts = procs.starmap(handle_chunk, [(c, a.wait, a.cpu, a.threads) for c in chunks])
    finally:
        procs.close()
        procs.join()
    return [i for part in parts for i in part]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--wait", type=float, default=0.02)
    parser.add_argument("--cpu", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("start_method", nargs="?", default=None)
    a = parser.parse_args()
    ctx = multiprocessing.get_context(a.start_method)
    items = list(range(a.items))
    print(f"{a.items} items, each {a.wait * 1000:g} ms waiting + {a.cpu * 1000:g} ms computing; "
          f"{os.cpu_count()} cores")
    for name, way in (("one by one", serial),
                      (f"{a.processes} processes", processes_only),
                      (f"{a.threads} threads", threads_only),
                      (f"{a.processes} processes x {a.threads} threads", hybrid)):
        t0 = time.monotonic()
        done = way(items, a, ctx)
        elapsed = time.monotonic() - t0
        assert sorted(done) == items
        print(f"  {name:<28} {elapsed:6.2f} s", flush=True)


if __name__ == "__main__":
    main()
