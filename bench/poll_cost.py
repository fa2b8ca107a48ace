"""Cost of the watchdog's /proc work on a hung seed tree (10 children, 2 threads each).

    python bench/poll_cost.py [--reads N]

Starts the seed hang with plain python in its own session, waits until it is quiet, then times:
the main-thread check done on every poll, a full tree reading (every thread's syscall and
schedstat), and a full proof attempt (resolution + snapshot + wait-for graph).  Stops the tree
by its session id at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

from mpdoctor.diagnose import waitfor
from mpdoctor.observe.snapshot import Snapshotter
from mpdoctor.observe.tree import TreeReader
from mpdoctor.run.watch import Watchdog

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(fn, n):
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t0)
    return xs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=200)
    args = ap.parse_args()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "seed_stamped.py"), "20000",
                             "fork"], stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        reader = TreeReader(lambda: [proc.pid])
        snapshotter = Snapshotter(proc.pid, reader)
        dog = Watchdog(proc.pid, reader, snapshotter)
        deadline = time.monotonic() + 30
        while dog.poll() is None:  # until the watchdog itself proves the hang
            if time.monotonic() > deadline:
                raise SystemExit("the seed did not hang within 30 s")
            time.sleep(dog.interval)
        n_threads = len(reader.read().threads)
        quick = timed(dog._root_blocked, args.reads)
        full = timed(reader.read, args.reads)
        prev = reader.read()

        def proof():
            now = reader.read()
            assert waitfor.build(snapshotter.take(prev, now)).deadlocked

        fresh = Snapshotter(proc.pid, reader)
        first = timed(lambda: fresh.take(reader.read(), reader.read()), 1)[0]
        proofs = timed(proof, max(10, args.reads // 10))
        print(f"tree: {len(reader.read().pids)} processes, {n_threads} threads")
        print("| step | median ms | min ms | max ms | runs |")
        print("|---|---|---|---|---|")
        for name, xs in (("main-thread check (every poll)", quick),
                         ("full tree reading", full),
                         ("proof attempt, fd tables cached", proofs),
                         ("first proof attempt (cold caches)", [first])):
            ms = [x * 1000 for x in xs]
            print(f"| {name} | {statistics.median(ms):.2f} | {min(ms):.2f} | {max(ms):.2f} "
                  f"| {len(ms)} |")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


if __name__ == "__main__":
    main()
