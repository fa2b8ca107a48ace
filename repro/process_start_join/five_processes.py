"""Five processes that each sleep SECONDS finish in about SECONDS, not five times that.

    python five_processes.py [SECONDS] [START_METHOD]

``start()`` returns as soon as the child is running; the parent starts all five, then joins
them.  The children sleep at the same time, so the whole run takes one sleep (plus the cost of
starting processes: more under spawn and forkserver, which start a fresh interpreter).
"""

import multiprocessing
import os
import sys
import time


def work(name, seconds):
    time.sleep(seconds)
    print(f"child {name} ({os.getpid()}) slept {seconds} s", flush=True)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    print(f"parent {os.getpid()}", flush=True)
    t0 = time.monotonic()
    children = [ctx.Process(target=work, args=(i, seconds)) for i in range(5)]
    for p in children:
        p.start()  # returns at once
    for p in children:
        p.join()  # the first join waits about SECONDS; the others return almost at once
    elapsed = time.monotonic() - t0
    print(f"5 x {seconds} s of sleep took {elapsed:.2f} s: the children ran at the same time")


if __name__ == "__main__":
    main()
