"""A worker saves its progress under a lock, and installs a SIGTERM handler that takes the
same lock to write a final checkpoint.  The parent terminate()s the worker while the worker is
inside its `with lock:` block: the handler runs on top of that block, in the same thread, and
waits for a lock that only the interrupted frame can release.  The parent's join() waits for
ever."""

import multiprocessing as mp
import signal
import sys


def worker(lock, progress, inside, more):
    def checkpoint_and_exit(signum, frame):
        with lock:                      # the interrupted frame holds it
            progress.value = -1
        sys.exit(0)

    signal.signal(signal.SIGTERM, checkpoint_and_exit)
    with lock:
        progress.value += 1
        inside.set()
        more.wait()                     # SIGTERM arrives here, with the lock held


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    lock = ctx.Lock()
    progress = ctx.Value("i", 0, lock=False)
    inside, more = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=worker, args=(lock, progress, inside, more))
    proc.start()
    inside.wait()
    proc.terminate()                    # "please checkpoint and stop"
    proc.join()
    print("worker stopped with", proc.exitcode)
