"""Hangs (fork start method): a background thread holds a lock at the moment the main thread
forks a worker.  The child inherits the lock locked, but not the thread that would release it.

    python fork_while_locked.py [START_METHOD]     (default: fork; spawn and forkserver work)
"""

import multiprocessing
import sys
import threading
import time

_cache_lock = threading.Lock()
_cache = {}
_holding = threading.Event()


def refresher():
    while True:
        with _cache_lock:
            _holding.set()
            time.sleep(0.5)  # a slow refresh, holding the lock
            _cache["stamp"] = time.time()
        time.sleep(0.001)


def lookup(key):
    with _cache_lock:  # in a forked child, nobody will ever release it
        return _cache.get(key)


def work():
    print("worker: stamp =", lookup("stamp"), flush=True)


if __name__ == "__main__":
    threading.Thread(target=refresher, daemon=True).start()
    _holding.wait()  # fork while the refresher holds the lock
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else "fork")
    p = ctx.Process(target=work)
    p.start()
    p.join()
    print("worker exit code", p.exitcode)
