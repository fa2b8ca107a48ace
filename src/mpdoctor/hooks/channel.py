"""Events from the hooks to the watchdog: one JSON datagram each, on a unix datagram socket.

A datagram is delivered whole or not at all, so a process that dies right after sending loses
nothing it sent.  Sending never blocks: when the watchdog is gone or behind, the event is
dropped and counted, and the count rides along with the next event that gets through.
"""

import _thread
import os
import time

_lock = _thread.allocate_lock()
_state = {"sock": None, "addr": None, "pid": None, "dropped": 0, "dead": False}


def configure(addr):
    _state["addr"] = addr
    _state["sock"] = None
    _state["pid"] = None


def _socket():
    import socket

    pid = os.getpid()
    if _state["pid"] != pid or _state["sock"] is None:
        # a fresh socket per process: a forked child must not share its parent's send state
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.setblocking(False)
        _state["sock"], _state["pid"] = s, pid
    return _state["sock"]


def send(kind, **data):
    """Send one event; never raises, never blocks."""
    if _state["addr"] is None or _state["dead"]:
        return
    try:
        import json

        data["ev"] = kind
        data["pid"] = os.getpid()
        data["t"] = time.time()
        if _state["dropped"]:
            data["dropped_before"] = _state["dropped"]
        payload = json.dumps(data, default=repr).encode("utf-8", "replace")
        with _lock:
            _socket().sendto(payload, _state["addr"])
        _state["dropped"] = 0
    except (ConnectionRefusedError, FileNotFoundError):
        _state["dead"] = True  # the watchdog is gone: stop trying
    except Exception:
        _state["dropped"] += 1
