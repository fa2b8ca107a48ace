"""Control (finishes): each Pool worker's initializer takes 2 s (loading configuration)
before the workers accept tasks; map() waits, then returns.

The working form of internetarchive/openlibrary#12900 (a Pool initializer that loads the
configuration in each spawned worker)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)
CONFIG = None


def load_config():
    global CONFIG
    time.sleep(2)
    CONFIG = {"db": "sqlite://"}


def lookup(key):
    return key, CONFIG["db"]


if __name__ == "__main__":
    with CTX.Pool(2, initializer=load_config) as pool:
        print(pool.map(lookup, ["a", "b", "c"]))
