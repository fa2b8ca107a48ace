"""Control (finishes): the main module returns without joining its non-daemon child;
multiprocessing's exit handler joins it, and the child ends by itself after 3 s.  For 3 s
the parent sits in interpreter exit, waiting for a child, like the exit deadlocks, but the
child finishes.

The benign form of wool-labs/wool#294 (the multiprocessing atexit join waits for every live
non-daemon child)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def flush_cache():
    time.sleep(3)
    print("cache flushed", flush=True)


if __name__ == "__main__":
    CTX.Process(target=flush_cache).start()
    print("main finished", flush=True)
