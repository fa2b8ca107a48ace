"""Not a deadlock: a Pool grinding through CPU-bound tasks for a few seconds."""

import multiprocessing
import sys


def burn(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3_000_000
    ctx = multiprocessing.get_context(sys.argv[2] if len(sys.argv) > 2 else None)
    with ctx.Pool(2) as pool:
        print(sum(pool.map(burn, [rounds] * 8)), flush=True)
