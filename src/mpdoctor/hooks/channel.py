"""Events from the hooks to the watchdog: one JSON datagram each, on a unix datagram socket.

What may be sent is declared in ``protocol.py``; the encoder here keeps each event within its
limits cheaply (strings and lists cut to ``MAX_TEXT``/``MAX_ITEMS``, a datagram over
``MAX_DATAGRAM`` bytes dropped and counted), and leaves the checking to the watchdog.

A datagram is delivered whole or not at all, so a process that dies right after sending loses
nothing it sent.  The kernel queues only a few datagrams per receiver (net.unix.max_dgram_qlen,
often 10): when the watchdog is behind, a send waits at most ``WAIT`` seconds for room (a
process's one ``hello``, ``HELLO_WAIT``), then the event is dropped and counted (apart, those
about timers: only their loss can hide a timer from the proof), and the counts ride along with
the next event that gets through.
When the watchdog is gone, nothing is sent any more.

No fd of the hooks' stays open in a process that only announces itself: ``hello`` (every process
at start-up, every forked child) goes out on a socket closed right after, so a program that
lists its own fds (a test that checks what a child inherited) sees the same as without
mpdoctor.  A process that reports more (a put site, a pool call, a timer...) keeps one socket
(close-on-exec) from its first such event on: opening one per event would cost every Pool call.

Fork safety: nothing here holds a lock while it sends, and a forked child starts with a fresh
lock and no socket (``after_fork``, registered by ``boot``): a lock another thread held at the
moment of a fork would otherwise stay held for ever in the child.
"""

import _thread
import os
import time

from mpdoctor.hooks import protocol

_lock = _thread.allocate_lock()
WAIT = 0.05
#: a process's hello carries its timers and says that its hooks run: without it, the proof
#: cannot count on the process (a timer it cannot see might end any wait).  Sent once per
#: process, it may wait this long for room in the watchdog's queue (a burst of hundreds of
#: processes starting at once fills it)
HELLO_WAIT = 2.0
_state = {"sock": None, "addr": None, "pid": None, "dropped": 0, "timers_dropped": 0,
          "dead": False}
#: kinds whose loss could hide a timer from the proof
_TIMER_KINDS = (protocol.HELLO, protocol.TIMER)


def configure(addr):
    _state["addr"] = addr
    _state["sock"] = None
    _state["pid"] = None


def after_fork():
    """In a forked child: forget the parent's socket and lock (never touch them again)."""
    global _lock
    _lock = _thread.allocate_lock()
    _state["sock"] = None
    _state["pid"] = None
    _state["dropped"] = 0
    _state["timers_dropped"] = 0


def _connect():
    import _socket  # built in: ``socket`` would import enum and more at every start-up

    # Connected, so that waiting for the watchdog's queue to have room is possible.
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    s.setblocking(False)
    try:
        s.connect(_state["addr"])
    except BaseException:
        s.close()
        raise
    return s


def _kept():
    """This process's own socket, if it has one already."""
    s = _state["sock"]
    return s if _state["pid"] == os.getpid() else None


def _socket():
    s = _kept()
    if s is not None:
        return s
    pid = os.getpid()
    # a fresh socket per process: a forked child must not share its parent's send state
    s = _connect()
    with _lock:  # two threads creating it at once: keep one
        if _state["pid"] == pid and _state["sock"] is not None:
            s.close()
            return _state["sock"]
        _state["sock"], _state["pid"] = s, pid
    return s


_ESCAPES = {i: "\\u%04x" % i for i in range(32)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


def encode(value, _text=protocol.MAX_TEXT, _items=protocol.MAX_ITEMS):
    """JSON text of event data (str, int, float, bool, None, lists and dicts of them; anything
    else as its repr), strings cut to ``MAX_TEXT`` characters and lists to ``MAX_ITEMS`` items.
    Here rather than ``json``: its import costs more than a process's whole start-up of the
    hooks."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if value == value and value not in (1e999, -1e999) else "null"
    if isinstance(value, str):
        if len(value) > _text:
            value = value[:_text]
        return '"%s"' % value.translate(_ESCAPES)
    if isinstance(value, (list, tuple)):
        return "[%s]" % ",".join(encode(v) for v in value[:_items])
    if isinstance(value, dict):
        return "{%s}" % ",".join("%s:%s" % (encode(str(k)), encode(v))
                                 for k, v in value.items())
    try:
        text = repr(value)
    except Exception:
        text = "<%s>" % type(value).__name__
    return encode(text)


def send(kind, **data):
    """Send one event; never raises, never blocks for more than ``WAIT`` seconds."""
    _send(kind, data, True)


def send_closing(kind, **data):
    """Send one event as ``send`` does, on a socket closed right after unless the process
    keeps one already: for the ``hello`` every process sends, so that one leaves no fd open
    (and it may wait up to ``HELLO_WAIT``)."""
    _send(kind, data, False, HELLO_WAIT if kind == protocol.HELLO else WAIT)


def send_note(kind, **data):
    """Send a best-effort note as ``send_closing`` does; if it cannot be sent it is not counted
    as dropped (its loss hides nothing from the proof: a ``started-child``)."""
    _send(kind, data, False, WAIT, counted=False)


def _send(kind, data, keep, wait=WAIT, counted=True):
    if _state["addr"] is None or _state["dead"]:
        return
    try:
        data["ev"] = kind
        data["pid"] = os.getpid()
        data["t"] = time.time()
        if _state["dropped"]:
            data["dropped_before"] = _state["dropped"]
            data["timers_dropped_before"] = _state["timers_dropped"]
        payload = encode(data).encode("utf-8", "replace")
        if len(payload) > protocol.MAX_DATAGRAM:
            _dropped(kind, counted)  # the watchdog would not read it whole
            return
        s = _socket() if keep else _kept()
        once = None if s is not None else _connect()
        try:
            _deliver(s or once, payload, wait)
        finally:
            if once is not None:
                once.close()
        _state["dropped"] = 0
        _state["timers_dropped"] = 0
    except (ConnectionRefusedError, FileNotFoundError, PermissionError):
        # the watchdog is gone, or out of reach (this process changed its user): stop trying
        _state["dead"] = True
    except Exception:
        _dropped(kind, counted)


def _dropped(kind, counted):
    if counted:
        _state["dropped"] += 1
        if kind in _TIMER_KINDS:
            _state["timers_dropped"] += 1


def _deliver(s, payload, wait=WAIT):
    try:
        s.send(payload)
        return
    except BlockingIOError:
        pass
    import select
    deadline = time.monotonic() + wait
    while True:  # the watchdog is behind: wait a little for room in its queue
        select.select([], [s], [], max(0.0, min(WAIT, deadline - time.monotonic())))
        try:
            s.send(payload)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
