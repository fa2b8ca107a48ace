"""``MPDOCTOR_DEBUG=1``: a trace of what mpdoctor itself does, on stderr, each line prefixed with
the time, the pid and the thread id (the hooks inside the script's processes use the same
variable)."""

from __future__ import annotations

import os
import sys
import threading
import time

ENABLED = bool(os.environ.get("MPDOCTOR_DEBUG"))
_T0 = time.monotonic()


def log(message: str) -> None:
    if not ENABLED:
        return
    try:
        sys.stderr.write(f"[mpdoctor {time.monotonic() - _T0:8.3f} {os.getpid()}/"
                         f"{threading.get_ident()}] {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
