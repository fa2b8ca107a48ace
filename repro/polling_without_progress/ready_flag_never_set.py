"""The parent starts a loader process and polls a shared flag until the loader says it is
ready.  The loader fails before it sets the flag; nothing else ever sets it, and the parent
sleeps and polls forever without looking at the loader."""

import multiprocessing as mp
import sys
import time


def load(ready):
    settings = {}
    settings["model"]["path"]           # KeyError: the settings are incomplete
    ready.value = 1


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    ready = ctx.Value("b", 0)
    loader = ctx.Process(target=load, args=(ready,))
    loader.start()
    while not ready.value:              # the loader died: nobody will set it
        time.sleep(0.05)
    print("loader ready")
