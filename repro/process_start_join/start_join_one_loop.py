"""The same five processes, started and joined in one loop: five times slower.

    python start_join_one_loop.py [SECONDS] [START_METHOD]

``p.start(); p.join()`` in the same loop waits for each child before starting the next, so the
children run one after the other: 5 x SECONDS.  Start them all first, then join them all
(five_processes.py).
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
    t0 = time.monotonic()
    for i in range(5):
        p = ctx.Process(target=work, args=(i, seconds))
        p.start()
        p.join()  # waits for this child before the next one is even started
    elapsed = time.monotonic() - t0
    print(f"5 x {seconds} s of sleep took {elapsed:.2f} s: the children ran one after the other")


if __name__ == "__main__":
    main()
