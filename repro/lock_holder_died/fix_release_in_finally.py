"""The fix: the parent asks the writer to stop (an Event it checks) instead of terminating
it; the writer leaves its `with lock:` block, and the lock is free again."""

import multiprocessing as mp
import sys


def write(lock, inside, stop):
    with lock:
        inside.set()
        stop.wait()                     # the work, interrupted by a request, not a kill


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    lock = ctx.Lock()
    inside, stop = ctx.Event(), ctx.Event()
    writer = ctx.Process(target=write, args=(lock, inside, stop))
    writer.start()
    inside.wait()
    stop.set()                          # "it takes too long": ask it to stop
    writer.join()
    with lock:
        print("log closed")
