"""Not a deadlock: the parent waits in q.get() while its only child sleeps, then puts."""

import multiprocessing
import sys
import time


def late(q, seconds):
    time.sleep(seconds)
    q.put("done")


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    ctx = multiprocessing.get_context(sys.argv[2] if len(sys.argv) > 2 else None)
    q = ctx.Queue()
    p = ctx.Process(target=late, args=(q, seconds))
    p.start()
    print(q.get(), flush=True)
    p.join()
