"""A healthy CPU-bound Pool run that pauses in the middle: it maps, says "ready", waits for a
line on stdin, maps again and exits 0.  The forgery tests send their datagrams during the pause.

    python pool_waits_for_line.py [START_METHOD]
"""

import multiprocessing
import sys


def work(n):
    return sum(i * i for i in range(n))


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else "spawn")
    with ctx.Pool(2) as pool:
        print(sum(pool.map(work, [20_000] * 8)), flush=True)
        print("ready", flush=True)
        sys.stdin.readline()
        print(sum(pool.map(work, [20_000] * 8)), flush=True)
