"""Events from the hooks to the watchdog: one JSON datagram each, on a unix datagram socket.

A datagram is delivered whole or not at all, so a process that dies right after sending loses
nothing it sent.  The kernel queues only a few datagrams per receiver (net.unix.max_dgram_qlen,
often 10): when the watchdog is behind, a send waits at most ``WAIT`` seconds for room, then the
event is dropped and counted, and the count rides along with the next event that gets through.
When the watchdog is gone, nothing is sent any more.
"""

import _thread
import os
import time

_lock = _thread.allocate_lock()
WAIT = 0.05
_state = {"sock": None, "addr": None, "pid": None, "dropped": 0, "dead": False}


def configure(addr):
    _state["addr"] = addr
    _state["sock"] = None
    _state["pid"] = None


def _socket():
    import socket

    pid = os.getpid()
    if _state["pid"] != pid or _state["sock"] is None:
        # a fresh socket per process: a forked child must not share its parent's send state.
        # Connected, so that waiting for the watchdog's queue to have room is possible.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect(_state["addr"])
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
            s = _socket()
            try:
                s.send(payload)
            except BlockingIOError:
                import select
                select.select([], [s], [], WAIT)  # the watchdog is behind: wait a little
                s.send(payload)
        _state["dropped"] = 0
    except (ConnectionRefusedError, FileNotFoundError):
        _state["dead"] = True  # the watchdog is gone: stop trying
    except Exception:
        _state["dropped"] += 1
