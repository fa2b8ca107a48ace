"""The fix: the polling loop also checks that the loader is still alive, and gives up (with
the loader's exit code) when it is not."""

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
    while not ready.value:
        if not loader.is_alive():       # it can no longer set the flag
            loader.join()
            sys.exit(f"the loader died (exit code {loader.exitcode}) before it was ready")
        time.sleep(0.05)
    print("loader ready")
