"""A writer appends to a shared log under a multiprocessing.Lock.  The parent decides the
writer takes too long and terminate()s it, while the writer is inside its `with lock:` block.
A terminated process never releases anything: the parent's own `with lock:` waits for ever."""

import multiprocessing as mp
import sys


def write(lock, inside, more):
    with lock:
        inside.set()
        more.wait()                     # terminated here, with the lock held


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    lock = ctx.Lock()
    inside, more = ctx.Event(), ctx.Event()
    writer = ctx.Process(target=write, args=(lock, inside, more))
    writer.start()
    inside.wait()
    writer.terminate()                  # "it takes too long"
    writer.join()
    with lock:                          # never: the dead writer holds it
        print("log closed")
