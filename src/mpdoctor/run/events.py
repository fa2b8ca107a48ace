"""The watchdog's end of the hooks' event channel: only the watched tree is heard.

* The address: a unix datagram socket in a directory of its own, created with mode 0700 (other
  users cannot even connect to it), removed when the receiver closes.  The configuration for the
  hooks (this address) travels in one environment variable, ``MPDOCTOR_HOOKS`` (plain text, see
  ``mpdoctor.hooks.boot.encode``), inherited by every process the script starts.
* The sender: every datagram comes with the sender's pid as the kernel vouches for it
  (``SO_PASSCRED``/``SCM_CREDENTIALS``; whatever pid a datagram names is ignored), and is
  accepted only when that process belongs to the watched tree (``mpdoctor.run.members``).
* The content: each datagram is checked against the event protocol
  (``mpdoctor.hooks.protocol``); what it does not allow never becomes an event.
* The memory: kept events are bounded by ``MAX_BYTES``; beyond it, events are counted, not kept.
* A sender that has exited and been reaped before its datagram is read cannot be checked any
  more: its datagrams are held (within ``MAX_HELD`` datagrams) until a process of the tree
  vouches for it (a ``started-child`` event: "I have just started that pid"), and counted as
  ``gone`` if none ever does.
* Everything not kept is counted by reason (:class:`mpdoctor.outcome.EventCounts`, in the JSON
  report).  A process of the tree whose event was lost that way counts as one without hooks
  from then on (its timers unknown), since the lost event may have been a timer's.
* The reader thread catches everything per datagram, and :meth:`Receiver.close` returns within
  ``JOIN_TIMEOUT + DRAIN_TIME`` seconds whatever the socket's queue or the reader is doing.
"""

from __future__ import annotations

# (``_socket``, not ``socket``, which imports selectors, enum and more: this module is loaded
# while the script starts)
import _socket
import os
import select
import struct
import threading
import time


from mpdoctor.debug import log
from mpdoctor.hooks import protocol
from mpdoctor.hooks.config import ENV  # noqa: F401 - re-exported
from mpdoctor.run.endpoint import MAX_PATH, Endpoint  # noqa: F401 - MAX_PATH: re-exported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Set, Tuple

if TYPE_CHECKING:
    from mpdoctor.model import Event, HeldLock
    from mpdoctor.outcome import EventCounts

#: the most bytes of datagrams kept as events (each charged ``EVENT_OVERHEAD`` more)
MAX_BYTES = 32 << 20
#: what keeping one event costs beyond its datagram (the objects it is parsed into)
EVENT_OVERHEAD = 1024
#: how long close() waits for the reader thread, then for the last queued datagrams
JOIN_TIMEOUT = 1.0
DRAIN_TIME = 0.5
#: the most datagrams held for senders that exited before they could be checked
MAX_HELD = 4096
#: datagrams read per wake-up of the reader before it looks at its stop flag again
BATCH = 256

#: why a datagram was not kept (the keys of ``EventCounts.rejected``)
FOREIGN = "foreign"  # the kernel says it came from a process outside the watched tree
GONE = "gone"  # its sender had exited (and been reaped) before it could be checked
INVALID = "invalid"  # not an event of the protocol
OVERSIZED = "oversized"  # larger than protocol.MAX_DATAGRAM
OVER_BUDGET = "over_budget"  # a valid event beyond MAX_BYTES
REASONS = (FOREIGN, GONE, INVALID, OVERSIZED, OVER_BUDGET)

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
_ANCILLARY = _socket.CMSG_SPACE(_UCRED.size)
_FD = struct.Struct("i")

if TYPE_CHECKING:
    Member = Callable[[int], Optional[bool]]


class Receiver:
    """Reads the hooks' events in a daemon thread, so that bursts never fill the kernel's queue
    while the main loop sleeps.  ``member(pid)`` says whether a process belongs to the watched
    tree (True), not (False), or cannot be told any more (None)."""

    def __init__(self, member: Member, debug: bool = False, budget: int = MAX_BYTES,
                 endpoint: Optional[Endpoint] = None) -> None:
        self.member = member
        self.debug = debug
        self.budget = budget
        self.endpoint = endpoint if endpoint is not None else Endpoint.bind()
        self.dir = self.endpoint.dir
        self.addr = self.endpoint.addr
        self._wake_r = self._wake_w = -1
        try:
            self.sock = _socket.socket(fileno=self.endpoint.take())
            try:
                self.sock.setblocking(False)
                self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            except BaseException:
                self.sock.close()
                raise
        except BaseException:
            self.endpoint.close()
            raise
        # (kind, pid, time, data, cost) or None where a kept event was given up; turned into
        # Events only when asked for (keeps start-up light)
        self._events: List[Optional[Tuple[str, int, float, Dict[str, Any], int]]] = []
        self._bytes = 0
        #: (pid, which) -> index in _events of the one timer event kept for it
        self._timers: Dict[Tuple[int, str], int] = {}
        #: processes of the tree that lost an event: their timers are unknown
        self._unsure: Set[int] = set()
        self.received = 0
        self.accepted = 0
        self.rejected: Dict[str, int] = {r: 0 for r in REASONS}
        self.lost = 0  # reported by the hooks as not sent
        #: pid -> datagrams (data, flags) from it, held until a member vouches for it
        self._held: Dict[int, List[Tuple[bytes, int]]] = {}
        self._held_count = 0
        self._built: List[Any] = []  # Events (or None) for _events[:len(_built)]
        self._rebuild = False
        self._lock = threading.Lock()
        self._stop = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mpdoctor-events", daemon=True)
        self._thread.start()

    @property
    def native_id(self) -> Optional[int]:
        """The kernel thread id of the reader thread."""
        return self._thread.native_id

    def env(self) -> Dict[str, str]:
        return self.endpoint.env(self.debug)

    # -- the reader thread ---------------------------------------------------------------------
    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while not self._stop:
            try:
                ready = poller.poll()
                if self._stop or any(fd == self._wake_r for fd, _ in ready):
                    return
                self._drain(BATCH)
            except Exception as exc:  # noqa: BLE001 - the reader must outlive anything
                if self._stop:
                    return
                log("events", f"event reader: {exc!r}")
                time.sleep(0.01)  # (a lasting error must not spin)

    def _drain(self, limit: int, deadline: Optional[float] = None) -> None:
        for _ in range(limit):
            if deadline is not None and time.monotonic() > deadline:
                return
            try:
                data, ancdata, flags, _ = self.sock.recvmsg(protocol.MAX_DATAGRAM, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            try:
                self._take(data, ancdata, flags)
            except Exception as exc:  # noqa: BLE001 - one bad datagram costs only itself
                log("events", f"event reader: datagram not handled: {exc!r}")
                self._count(INVALID)

    def _take(self, data: bytes, ancdata: List[Tuple[int, int, bytes]], flags: int) -> None:
        self._count(None)
        pid, extra = _sender(ancdata)
        if extra or flags & _socket.MSG_CTRUNC:
            self._count(INVALID)  # it carried more than credentials (file descriptors)
            return
        if pid is None:
            self._count(FOREIGN)  # no credentials: nothing vouches for the sender
            return
        self._judge(pid, data, flags)

    def _judge(self, pid: int, data: bytes, flags: int) -> None:
        member = self.member(pid)
        if member is None:
            self._hold(pid, data, flags)
            return
        if not member:
            self._count(FOREIGN)
            return
        if flags & _socket.MSG_TRUNC:
            self._count(OVERSIZED, pid)
            return
        try:
            raw = protocol.decode(data)
            at, dropped, timers_dropped = protocol.envelope_drops(raw)
            kind, fields = protocol.validate(raw)
        except protocol.ProtocolError as err:
            if self.debug:
                log("events", f"invalid event from {pid}: {err}")
            self._count(INVALID, pid)
            return
        if kind == protocol.STARTED_CHILD:  # used here, never kept: a pool may start thousands
            with self._lock:
                self.accepted += 1
                self.lost += dropped
                if timers_dropped:
                    self._unsure.add(pid)  # what it could not send was about a timer
            self._vouched(fields["child"])
            return
        self._keep(kind, pid, at, fields, len(data) + EVENT_OVERHEAD, dropped, timers_dropped)

    def _hold(self, pid: int, data: bytes, flags: int) -> None:
        """A datagram of a sender that is gone, unknown: kept aside for a voucher."""
        with self._lock:
            if self._held_count >= MAX_HELD:
                self.rejected[GONE] += 1
                return
            self._held.setdefault(pid, []).append((data, flags))
            self._held_count += 1

    def _vouched(self, child: int) -> None:
        """A process of the tree has started ``child``: it belongs, and so do what it sent
        before anyone could tell (and, in turn, the children it vouched for)."""
        vouch = getattr(self.member, "vouch", None)
        if vouch is None:
            return
        vouch(child)
        with self._lock:
            held = self._held.pop(child, [])
            self._held_count -= len(held)
        for data, flags in held:  # (a held child event comes back here: depth = generations)
            self._judge(child, data, flags)

    def _count(self, reason: Optional[str], pid: Optional[int] = None) -> None:
        with self._lock:
            if reason is None:
                self.received += 1
                return
            self.rejected[reason] += 1
            if pid is not None:
                self._unsure.add(pid)

    def _keep(self, kind: str, pid: int, at: float, fields: Dict[str, Any], cost: int,
              dropped: int, timers_dropped: Optional[int] = None) -> None:
        with self._lock:
            self.lost += dropped
            if dropped if timers_dropped is None else timers_dropped:
                self._unsure.add(pid)  # what it could not send was (or may have been) a timer
            entry = (kind, pid, float(at), fields, cost)
            if kind == protocol.TIMER:
                # only a process's latest report of each timer matters: it replaces the last
                key = (pid, fields["which"])
                index = self._timers.get(key)
                if index is not None:
                    old = self._events[index]
                    freed = old[4] if old is not None else 0
                    if self._bytes - freed + cost <= self.budget:
                        self._events[index] = entry
                        self._bytes += cost - freed
                        self.accepted += 1
                        self._rebuild = True
                        return
                    self._events[index] = None  # keep neither: the pid's timers are unknown
                    self._bytes -= freed
                    self._rebuild = True
                    del self._timers[key]
            if self._bytes + cost > self.budget:
                self.rejected[OVER_BUDGET] += 1
                if kind in (protocol.HELLO, protocol.TIMER):
                    self._unsure.add(pid)
                return
            if kind == protocol.TIMER:
                self._timers[(pid, fields["which"])] = len(self._events)
            self._events.append(entry)
            self._bytes += cost
            self.accepted += 1

    # -- the watchdog's side -------------------------------------------------------------------
    def snapshot(self) -> List["Event"]:
        """Every event kept so far (a process that lost one says no hello: its timers are
        unknown)."""
        if not self._lock.acquire(timeout=JOIN_TIMEOUT):
            return [e for e in self._built if e is not None]  # (the reader is stuck)
        try:
            if not self._events:
                return []  # (and the model is not loaded for nothing)
            from mpdoctor.model import Event
            if self._rebuild:
                self._built, self._rebuild = [], False
            for entry in self._events[len(self._built):]:
                self._built.append(Event(*entry[:4]) if entry is not None else None)
            unsure = self._unsure
            return [e for e in self._built if e is not None
                    and not (e.kind == protocol.HELLO and e.pid in unsure)]
        finally:
            self._lock.release()

    def kinds(self) -> Set[str]:
        """The kinds of the events kept (cheap: nothing is converted)."""
        with self._lock:
            return {e[0] for e in self._events if e is not None}

    def counts(self) -> "EventCounts":
        from mpdoctor.outcome import EventCounts
        with self._lock:
            rejected = dict(self.rejected)
            rejected[GONE] += self._held_count  # (nobody vouched for them, so far)
            return EventCounts(received=self.received, accepted=self.accepted,
                               rejected=rejected, lost=self.lost,
                               kept_bytes=self._bytes)

    def held_locks(self) -> List["HeldLock"]:
        """What the ledgers of the tree's processes say they hold (hooks/locks.py): one entry
        per lock a process of the watched tree took and did not release as often."""
        from mpdoctor.hooks import locks
        from mpdoctor.model import HeldLock

        out: List[HeldLock] = []
        try:
            names = os.listdir(self.dir)
        except OSError:
            return out
        for name in names:
            if not name.startswith("held.") or not name[5:].isdigit():
                continue
            pid = int(name[5:])
            if self.member(pid) is False:
                continue  # not a process of the tree: not heard
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    data = f.read(locks.SLOTS * locks.SLOT)
            except OSError:
                continue
            for key, lock, tid, count, line, file, sampled in locks.parse(data):
                if count != 0:
                    out.append(HeldLock(pid, key, lock, count, tid,
                                        f"{file}:{line}" if file else "", sampled))
        return out

    def close(self) -> None:
        """Stop the reader thread and read what is still queued, for at most ``DRAIN_TIME``
        (``snapshot()`` then has every event).  A process's events are queued the moment it
        sends them, so after it has exited nothing of it can still be on the way.  Returns
        within about ``JOIN_TIMEOUT + DRAIN_TIME`` seconds, however full the queue or stuck
        the reader."""
        if self._closed:
            return
        self._closed = True
        self._stop = True
        try:
            os.write(self._wake_w, b"x")  # never blocks: the pipe is non-blocking
        except OSError:
            pass
        self._thread.join(timeout=JOIN_TIMEOUT)
        if not self._thread.is_alive():
            try:
                self._drain(1 << 16, deadline=time.monotonic() + DRAIN_TIME)
            except OSError:
                pass
            self.sock.close()
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
        else:
            # the reader is stuck in a datagram: it keeps its socket (a daemon thread ends
            # with the process); nothing more is read
            log("events", "event reader did not stop; its socket is left to it")
        self.endpoint.close()


def _sender(ancdata: List[Tuple[int, int, bytes]]) -> Tuple[Optional[int], bool]:
    """The sender's pid from the kernel's credentials, and whether anything else came along
    (file descriptors passed by a forger are closed at once)."""
    pid = None
    extra = False
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_CREDENTIALS \
                and len(data) >= _UCRED.size:
            pid = _UCRED.unpack_from(data)[0]
            continue
        extra = True
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            for (fd,) in _FD.iter_unpack(data[:len(data) - len(data) % _FD.size]):
                try:
                    os.close(fd)
                except OSError:
                    pass
    return (pid if pid is not None and pid > 0 else None), extra


def note(counts: "EventCounts", gone: bool = True) -> Optional[str]:
    """A line for the report when the watchdog did not keep everything it was sent.  With
    ``gone=False`` (a run that ended well), events of processes of the tree that exited before
    they could be checked are not worth a line: they are only counted (in the JSON report)."""
    parts = []
    words = {FOREIGN: "from processes outside the watched tree",
             GONE: "from processes that had exited before they could be checked",
             INVALID: "not following the event protocol",
             OVERSIZED: "too large",
             OVER_BUDGET: f"beyond the {MAX_BYTES >> 20} MiB kept for events"}
    shown = [reason for reason in REASONS if gone or reason != GONE]
    for reason in shown:
        n = counts.rejected.get(reason, 0)
        if n:
            parts.append(f"{n} {words[reason]}")
    if not parts:
        return None
    total = sum(counts.rejected.get(reason, 0) for reason in shown)
    return (f"{total} event datagram{'s were' if total != 1 else ' was'} sent to mpdoctor and "
            f"ignored ({', '.join(parts)}): the report rests only on the events of the watched "
            "tree")
