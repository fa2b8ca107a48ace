"""Preloaded by the forkserver: at exit it takes SLOW_EXIT_SECONDS to finish."""

import atexit
import os
import time


def _slow_exit():
    time.sleep(float(os.environ.get("SLOW_EXIT_SECONDS", "3")))


atexit.register(_slow_exit)
