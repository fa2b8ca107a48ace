"""The fix for fork_while_locked.py: start the worker with 'spawn' (or 'forkserver'): it gets a
fresh interpreter and a fresh, unlocked lock.

    python fix_spawn.py
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
            time.sleep(0.5)
            _cache["stamp"] = time.time()
        time.sleep(0.001)


def lookup(key):
    with _cache_lock:
        return _cache.get(key)


def work():
    print("worker: stamp =", lookup("stamp"), flush=True)


if __name__ == "__main__":
    threading.Thread(target=refresher, daemon=True).start()
    _holding.wait()
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else "spawn")
    p = ctx.Process(target=work)
    p.start()
    p.join()
    print("worker exit code", p.exitcode)
