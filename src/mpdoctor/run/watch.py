"""The watchdog's decision: is the tree quiet enough to try a proof, and does the proof hold?

Each poll costs one cheap :class:`~mpdoctor.observe.tree.Reading`.  A proof is attempted only when
the script's main thread sat, without running, in a wait with no timeout across two consecutive
readings, and the blocked state differs from the last one that did not prove anything (or a
second has passed since).  The proof itself (``mpdoctor.diagnose.waitfor``) runs on a snapshot
whose facts were all resolved inside a window in which the stuck threads never ran.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Optional, Set, Tuple, Union

from mpdoctor.debug import log
from mpdoctor.debug import on as debug_on
from mpdoctor.model import LIVE_KINDS, Snapshot, WaitKind
from mpdoctor.observe import procfs, syscalls
from mpdoctor.observe.tree import Reading, TreeReader, moved

if TYPE_CHECKING:
    from mpdoctor.observe.snapshot import Snapshotter

#: poll interval while the main thread is blocked (fast: a hang should be seen at once)
FAST = 0.1
#: poll interval while the main thread is busy (a hang cannot form without it blocking)
SLOW = 0.25
#: how soon a proof that failed is tried again on an unchanged blocked state
RETRY = 1.0
#: the share of one core the cheap readings may take: a big busy tree is read less often
CPU_BUDGET = 0.005
#: the share of one core that repeated failed proof attempts on a busy tree may take
ATTEMPT_BUDGET = 0.01


class Watchdog:
    """``snapshotter``: a Snapshotter, or a function that makes one, called the first time the
    main thread is seen waiting.  Until then nothing of what a proof needs is loaded (the
    snapshot, the socket and library readers, the wait-for graph: most of the first poll's
    cost), so a script whose main thread computes never pays for it."""

    def __init__(self, root_pid: int, reader: TreeReader,
                 snapshotter: Union["Snapshotter", Callable[[], "Snapshotter"]]) -> None:
        self.root_pid = root_pid
        self.reader = reader
        self._snapshotter = snapshotter
        self.prev: Optional[Reading] = None
        self.last: Optional[Reading] = None
        self._tried: Optional[Tuple] = None
        self._tried_at = 0.0
        self._tried_cost = 0.0
        #: threads that broke the last proof only because they were running or had just run
        self._movers: Set[Tuple[int, int]] = set()
        self.attempts = 0
        self.interval = FAST
        #: when (time.monotonic()) the next poll is due: the last poll's start plus the
        #: interval, so that what a poll loads or tries is not added to the wait between
        #: readings (the window between two readings is never shorter than the interval)
        self.due = time.monotonic() + self.interval

    @property
    def snapshotter(self) -> "Snapshotter":
        if not hasattr(self._snapshotter, "take"):
            self._snapshotter = self._snapshotter()  # type: ignore[operator]
        return self._snapshotter  # type: ignore[return-value]

    def _root_blocked(self) -> bool:
        line = procfs.syscall_line(self.root_pid, self.root_pid)
        if line is None:
            return True  # unreadable or gone: let the full reading decide
        w = syscalls.decode(line, self.reader.arch)
        return w.indefinite and w.kind not in LIVE_KINDS

    def poll(self) -> Optional[Snapshot]:
        """One poll.  Returns a snapshot in which the main thread is proven stuck, else None."""
        started = time.monotonic()
        if not self._root_blocked():
            # the main thread runs or waits with a timeout: no full reading needed
            self.prev = None
            self.interval = SLOW
            self.due = started + self.interval
            return None
        t0 = time.perf_counter()
        reading = self.reader.read()
        cost = time.perf_counter() - t0
        log("watch", f"reading: {len(reading.tids)} processes, {len(reading.threads)} threads, "
                     f"{cost * 1000:.2f} ms")
        prev, self.prev, self.last = self.prev, reading, reading
        if prev is None:
            self.interval = FAST
            self.due = started + self.interval
            # the main thread waits: a proof attempt may follow the next reading, so what it
            # needs is loaded now, in the interval before it (a watch whose main thread keeps
            # running never loads it)
            self.snapshotter  # noqa: B018 - made on first use
            from mpdoctor.diagnose import waitfor  # noqa: F401
            return None
        # quiet tree: poll fast (a hang is forming); busy tree: slower, and never more than
        # CPU_BUDGET of a core on readings
        busy = sum(1 for k, t in reading.threads.items() if moved(prev.threads.get(k), t))
        self.interval = max(FAST if busy * 2 <= len(reading.threads) else SLOW,
                            cost / CPU_BUDGET)
        self.due = started + self.interval
        root = reading.thread(self.root_pid)
        if root is None or moved(prev.thread(self.root_pid), root):
            return None
        if self._first_hop_moves(prev, reading):
            return None
        signature = tuple(sorted((k, t.line) for k, t in reading.threads.items()))
        now = time.monotonic()
        settled = any(not moved(prev.threads.get(k), reading.threads.get(k))
                      for k in self._movers)
        quiet = busy * 2 <= len(reading.threads)
        due = now - self._tried_at >= max(RETRY, self._tried_cost / ATTEMPT_BUDGET)
        if self._tried is not None and not settled and not due and not (
                quiet and signature != self._tried):
            # the last proof failed and nothing suggests this one would not: a busy tree is
            # tried again only once a second (and within ATTEMPT_BUDGET of a core)
            return None
        from mpdoctor.diagnose import waitfor  # (loaded with the snapshotter)

        self._tried, self._tried_at = signature, now
        self.attempts += 1
        t0 = time.perf_counter()
        snapshot = self.snapshotter.take(prev, reading)
        graph = waitfor.build(snapshot)
        self._tried_cost = time.perf_counter() - t0
        if graph.deadlocked:
            log("proof", f"attempt {self.attempts}: the main thread is stuck "
                         f"({len(graph.stuck)} threads; {self._tried_cost * 1000:.1f} ms)")
            return snapshot
        self._movers = {(n[1], n[2]) for n, why in graph.live_reason.items()
                        if why in (waitfor.RUNNING, waitfor.MOVED)}
        if debug_on("proof"):
            reasons = sorted({why for why in graph.live_reason.values()})[:3]
            log("proof", f"attempt {self.attempts}: not stuck "
                         f"({self._tried_cost * 1000:.1f} ms): {'; '.join(reasons)}")
        return None

    def _first_hop_moves(self, prev: Reading, now: Reading) -> bool:
        """True when whatever the main thread waits for can evidently still act, judged from
        the readings alone: the child it joins, or (for a lock of its own) another of its
        threads, ran or waits with a timeout.  Spares a full proof attempt on a busy tree."""
        root = now.thread(self.root_pid)
        assert root is not None
        w = root.wait
        if w.kind is WaitKind.CHILD and w.pid is not None and w.pid != 0:
            pids = [w.pid] if w.pid > 0 else [p for p, pp in now.parent.items()
                                               if pp == self.root_pid]
            keys = [(p, t) for p in pids for t in now.tids.get(p, ())]
        elif w.kind is WaitKind.FUTEX and w.private:
            keys = [(self.root_pid, t) for t in now.tids.get(self.root_pid, ())
                    if t != self.root_pid]
        else:
            return False
        for key in keys:
            t = now.threads.get(key)
            if t is None:
                continue
            if moved(prev.threads.get(key), t) or not t.wait.indefinite:
                return True
        return False

    def snapshot_now(self) -> Snapshot:
        """A snapshot at any moment (at ``--timeout``): two fresh readings bracket it."""
        first = self.prev or self.reader.read()
        second = self.reader.read()
        return self.snapshotter.take(first, second)
