"""N children wait on one Event nobody sets; the parent joins them: N processes stuck the same
way.

    python many_waiters.py N
"""

import multiprocessing
import sys


def worker(event):
    event.wait()


if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    event = ctx.Event()
    children = [ctx.Process(target=worker, args=(event,)) for _ in range(int(sys.argv[1]))]
    for p in children:
        p.start()
    for p in children:
        p.join()
