"""A watchdog thread inside the watched process: it watches this process and its descendants
while code runs in the main thread (a test, under the pytest plugin), with the same engine as
``mpdoctor check`` (``Watchdog``: cheap readings, then a proof).

The differences from watching a script mpdoctor started:

* the root is this very process; its main thread is the one whose progress matters;
* this process's own threads that cannot take part in the code's waits are left out of every
  reading: the watchdog thread itself, and well-known library threads
  (:func:`mpdoctor.observe.ownthreads.library_threads`);
* what counts as connected to the outside is decided at each snapshot: the pipes given as
  ``outside`` (by default those this process had open when the watch started; the pytest plugin
  passes those pytest had when the session started: its stdio, xdist's channel), and every pipe
  that a process outside the watched tree holds at that moment (:class:`_Snapshotter`);
* this process's Python stacks come from ``sys._current_frames()`` (py-spy cannot attach to its
  own parent); the descendants' from py-spy;
* on a verdict, the caller is told first (it interrupts the main thread), then the stuck
  processes started during the watch are stopped.  Processes that existed before the watch, and
  multiprocessing's shared helpers (resource tracker, forkserver), are never stopped here.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mpdoctor.diagnose import registry
from mpdoctor.model import (Diagnosis, Event, HeldLock, Outcome, Role, Snapshot, Timer,
                            Verdict)
from mpdoctor.observe import ownthreads, procfs
from mpdoctor.observe.pyspy import Dumper
from mpdoctor.observe.snapshot import Snapshotter, role_of
from mpdoctor.observe.tree import Reading, TreeReader
from mpdoctor.run import engine, stopping
from mpdoctor.run.watch import Watchdog

#: multiprocessing's per-session helpers: shared by every test, never a test's leak or victim
SHARED_ROLES = (Role.RESOURCE_TRACKER, Role.FORKSERVER)

#: how many verdicts one watch may reach (a deadlock, then another in the code that unwinds)
MAX_VERDICTS = 3


@dataclass
class Reached:
    """A verdict the watch reached, and what it does about it."""

    outcome: Outcome  # DEADLOCK or TIMEOUT, with the diagnosis and the snapshot
    targets: List[Tuple[int, int]]  # (pid, start time) of the processes to stop
    stopped: List[int] = field(default_factory=list)
    #: set once the targets have been stopped
    done: threading.Event = field(default_factory=threading.Event)
    library: Dict[int, str] = field(default_factory=dict)  # threads left out, and why

    @property
    def kind(self) -> str:
        return self.outcome.verdict.value

    @property
    def diagnosis(self) -> Diagnosis:
        assert self.outcome.diagnosis is not None
        return self.outcome.diagnosis

    @property
    def snapshot(self) -> Snapshot:
        assert self.outcome.snapshot is not None
        return self.outcome.snapshot

    @property
    def after(self) -> float:
        """Seconds from the start of the watch to the verdict."""
        return self.outcome.duration

    @property
    def proof_seconds(self) -> float:
        return self.outcome.proof_seconds

    @property
    def notes(self) -> List[str]:
        return self.outcome.notes


# --------------------------------------------------------------------------------------------
# fork() while the watchdog thread runs
#
# From Python 3.12, os.fork() in a process with more than one thread emits a DeprecationWarning
# ("This process (pid=N) is multi-threaded, use of fork() may lead to deadlocks in the child"),
# so the watchdog thread would make every fork of a watched test warn.  It is fork-safe: it holds
# no lock the child could need (it reads /proc and waits on an Event of its own; CPython
# re-initialises the GIL and the import lock in the child).  So when the watchdog threads are the
# only other threads at the moment of a fork, that one warning is filtered out for that fork;
# with any other thread (the test's, a library's) it is left exactly as it would be.  The
# warning is emitted after the at-fork hooks have run, so the filter is put in place before a
# fork and taken out at the next fork, when the watch stops, or in the child.

FORK_WARNING = (r"This process \(pid=\d+\) is multi-threaded, use of fork(pty)?\(\) may lead to "
                r"deadlocks in the child\.")

#: kernel thread ids of the running watchdog threads of this process
_WATCHDOGS: Set[int] = set()
#: kernel thread ids of mpdoctor's other fork-safe threads here (the hooks' event receiver)
HELPERS: Set[int] = set()
_quiet: List[object] = []  # the warnings filter in place, if any
_hooks_registered = False


def _unquiet() -> None:
    while _quiet:
        item = _quiet.pop()
        try:
            warnings.filters.remove(item)  # type: ignore[attr-defined,arg-type]
        except ValueError:
            continue  # a catch_warnings() block that ended meanwhile took it away
        mutated = getattr(warnings, "_filters_mutated", None)
        if mutated is not None:
            mutated()  # forget warnings suppressed while it was in place


def _before_fork() -> None:
    _unquiet()
    ours = _WATCHDOGS | HELPERS
    if not ours:
        return
    others = set(procfs.tasks(os.getpid())) - {threading.get_native_id()}
    if others and others <= ours:
        warnings.filterwarnings("ignore", message=FORK_WARNING, category=DeprecationWarning)
        _quiet.append(warnings.filters[0])


def _in_child() -> None:
    _WATCHDOGS.clear()  # no watchdog thread runs in the child
    HELPERS.clear()
    _unquiet()


def register_fork_hooks() -> None:
    _register_fork_hooks()


def _register_fork_hooks() -> None:
    global _hooks_registered
    if _hooks_registered or sys.version_info < (3, 12):
        return
    _hooks_registered = True
    os.register_at_fork(before=_before_fork, after_in_child=_in_child)


def pipes_held_outside(tree: Set[int]) -> Set[int]:
    """Inodes of the pipes that some process outside ``tree`` has open now.

    Processes whose fd table cannot be read belong to other users; a process can come to hold
    this tree's pipes only by inheriting them (then it was a descendant once, of the same user)
    or by being handed them, which needs the same access."""
    out: Set[int] = set()
    for pid in procfs.listdir_ints(procfs.PROC):
        if pid in tree:
            continue
        for target in (procfs.fds(pid) or {}).values():
            inode = procfs.pipe_inode(target)
            if inode is not None:
                out.add(inode)
    return out


class _Snapshotter(Snapshotter):
    """A snapshotter that decides, at each snapshot, which pipes are connected to the outside.

    A pipe created while the process was already running (by an earlier test, say) is internal
    unless a process outside the tree holds it now.  Counting every pipe that existed when the
    watch started as "outside" instead would make a thread left blocked on one of them by
    earlier code (a queue feeder writing to a pipe nobody reads) able to act forever, and with it
    the whole process: no later deadlock involving this process could ever be proven."""

    def __init__(self, root_pid: int, reader: TreeReader, base: Set[int],
                 events: Optional[Callable[[], Sequence[Event]]] = None,
                 locks: Optional[Callable[[], Sequence[HeldLock]]] = None) -> None:
        super().__init__(root_pid, reader, base, events=events, locks=locks)
        self.base = set(base)

    def take(self, before: Reading, now: Reading) -> Snapshot:
        self.outside = self.base | pipes_held_outside(set(now.pids) | {self.root_pid})
        return super().take(before, now)

    def _timer_facts(self, events: Optional[Sequence[Event]], starts: Dict[int, int]
                     ) -> Optional[Dict[int, Tuple[Timer, ...]]]:
        """This process's own timer is read directly (and is exact)."""
        facts = dict(super()._timer_facts(events, starts) or {})
        facts[self.root_pid] = own_timers()
        return facts


def own_timers() -> Tuple[Timer, ...]:
    """This process's ITIMER_REAL timer, if armed.  pytest-timeout's (its ``signal`` method
    arms one for every test) is a watchdog's: when it fires it fails the test, so a wait that
    only it would end is still a deadlock, reported sooner."""
    remaining, interval = signal.getitimer(signal.ITIMER_REAL)
    if remaining <= 0 and interval <= 0:
        return ()
    handler = signal.getsignal(signal.SIGALRM)
    watchdog = getattr(handler, "__module__", "") == "pytest_timeout"
    return (Timer(int(signal.SIGALRM), "alarm", expires=time.monotonic() + remaining,
                  interval=interval, watchdog=watchdog),)


def own_pipes() -> Set[int]:
    """Inodes of the pipes this process has open now."""
    out = set()
    for target in (procfs.fds(os.getpid()) or {}).values():
        inode = procfs.pipe_inode(target)
        if inode is not None:
            out.add(inode)
    return out


def role_now(pid: int, root: int) -> Role:
    """What a live process is for multiprocessing (a forkserver's workers share its command
    line, so the parent's is needed too)."""
    st = procfs.stat(pid)
    parent = procfs.cmdline(st.ppid) if st is not None else ()
    return role_of(pid, root, procfs.cmdline(pid), parent)


class InProcessWatch:
    """Watch this process and its descendants from a daemon thread, from :meth:`start` to
    :meth:`stop`.  ``on_verdict`` is called from the watchdog thread when a deadlock is proven
    (or ``timeout`` seconds pass); it should interrupt the main thread.  ``may_act`` is asked
    just before that (e.g. "no debugger is attached")."""

    def __init__(self, on_verdict: Callable[[Reached], None], timeout: Optional[float] = None,
                 may_act: Callable[[], bool] = lambda: True,
                 dumper: Optional[Dumper] = None, name: str = "mpdoctor watchdog",
                 outside: Optional[Iterable[int]] = None,
                 events: Optional[Callable[[], Sequence[Event]]] = None,
                 locks: Optional[Callable[[], Sequence[HeldLock]]] = None,
                 own_threads: Callable[[], Iterable[int]] = lambda: ()) -> None:
        self.root = os.getpid()
        self.on_verdict = on_verdict
        self.timeout = timeout
        self.may_act = may_act
        self.dumper = dumper or Dumper()
        self.before: Dict[int, int] = stopping.descendants(self.root)
        self.outside = set(outside) if outside is not None else own_pipes()
        #: what the hooks reported (the pytest plugin runs them in this process and its
        #: children); None: no hooks
        self.events = events
        self.locks = locks
        #: kernel thread ids of more threads of mpdoctor's own in this process (the receiver
        #: of the hooks' events)
        self.own_threads = own_threads
        self.ignore: Set[int] = set()
        self.library: Dict[int, str] = {}
        self.verdicts: List[Reached] = []
        self.error: Optional[BaseException] = None
        self.started_at = time.monotonic()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- control -------------------------------------------------------------------------------
    def start(self) -> None:
        _register_fork_hooks()
        # the rules are loaded here, in the caller's thread, not by the watchdog thread at a
        # verdict: nothing is imported from the watchdog thread while the code it watches runs
        # (an import there could hold a module lock at the moment the code forks)
        registry.load()
        self.started_at = time.monotonic()
        self._thread.start()
        self._ready.wait(5.0)  # its thread id is known (and left out) from now on

    def stop(self, timeout: float = 15.0) -> None:
        """Stop watching; waits (bounded) for a verdict in progress to finish stopping its
        processes."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if not self._thread.is_alive() and self._thread.native_id is not None:
            _WATCHDOGS.discard(self._thread.native_id)
            if not _WATCHDOGS:
                _unquiet()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # -- processes -----------------------------------------------------------------------------
    def is_new(self, pid: int, start: int) -> bool:
        return self.before.get(pid) != start

    def new_processes(self) -> Dict[int, int]:
        """Descendants alive now that did not exist when the watch started."""
        return {pid: start for pid, start in stopping.descendants(self.root).items()
                if self.is_new(pid, start)}

    # -- the thread ----------------------------------------------------------------------------
    def _refresh_ignore(self) -> None:
        self.library = ownthreads.library_threads()
        wanted = {threading.get_native_id()} | set(self.library) | set(self.own_threads())
        if wanted != self.ignore:
            self.ignore.clear()
            self.ignore.update(wanted)

    def _watchdog(self) -> Watchdog:
        reader = TreeReader(lambda: [self.root], ignore=self.ignore)
        return Watchdog(self.root, reader, _Snapshotter(self.root, reader, self.outside,
                                                        events=self.events,
                                                        locks=self.locks))

    def _run(self) -> None:
        _WATCHDOGS.add(threading.get_native_id())
        self._ready.set()
        try:
            self._refresh_ignore()
            dog = self._watchdog()
            deadline = self.started_at + self.timeout if self.timeout else None
            while True:
                wait = max(0.0, (dog.due if deadline is None else min(dog.due, deadline))
                           - time.monotonic())
                if self._stop.wait(wait):
                    return
                self._refresh_ignore()
                proven = dog.poll()
                if proven is not None:
                    verdict = self._conclude(None, proven)
                    if verdict is not None:
                        if len(self.verdicts) >= MAX_VERDICTS:
                            return
                        dog = self._watchdog()  # start afresh: the tree has changed
                        continue
                if deadline is not None and time.monotonic() >= deadline:
                    verdict = self._conclude(Verdict.TIMEOUT, dog.snapshot_now())
                    if verdict is None or len(self.verdicts) >= MAX_VERDICTS:
                        return
                    # the interrupted code may get stuck again while it unwinds (on a lock a
                    # stopped process held, say): it gets the same time once more
                    assert self.timeout is not None  # (this branch is the timeout's)
                    deadline = time.monotonic() + self.timeout
                    dog = self._watchdog()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller, never raised here
            self.error = exc

    def _conclude(self, unproven: Optional[Verdict], snapshot: Snapshot) -> Optional[Reached]:
        at = time.monotonic()
        if self._stop.is_set():
            return None
        snapshot, diagnosis, verdict = engine.conclude(
            snapshot, self.dumper, unproven, own=ownthreads.dump_self(skip=self.ignore))
        if verdict is None:
            return None  # the stacks changed nothing in the proof; cannot happen, but be safe
        if self._stop.is_set() or not self.may_act():
            return None
        outcome = Outcome(verdict, diagnosis=diagnosis, snapshot=snapshot,
                          duration=at - self.started_at, proof_seconds=time.monotonic() - at)
        reached = Reached(outcome, targets=self._targets(verdict.value, snapshot, diagnosis),
                          library=dict(self.library))
        self.verdicts.append(reached)
        try:
            self.on_verdict(reached)
        finally:
            reached.stopped = stopping.stop(reached.targets, grace=0)
            reached.done.set()
        return reached

    def _targets(self, kind: str, snapshot: Snapshot,
                 diagnosis: Diagnosis) -> List[Tuple[int, int]]:
        """What a verdict stops: after a deadlock, the stuck processes started during the
        watch and their descendants; after a timeout, every process started during the watch.
        Never this process, a process that existed before, or multiprocessing's helpers."""
        if kind == "deadlock":
            chosen = {pid for pid, _ in diagnosis.stuck} - {self.root}
            grew = True
            while grew:  # everything below a chosen process goes with it
                more = {p.pid for p in snapshot.processes if p.ppid in chosen} - chosen
                chosen |= more
                grew = bool(more)
        else:
            chosen = {p.pid for p in snapshot.processes}
        current = stopping.descendants(self.root)
        if kind != "deadlock":
            chosen |= set(current)
        out = []
        for pid in sorted(chosen):
            start = current.get(pid)
            if pid == self.root or start is None or not self.is_new(pid, start):
                continue
            proc = snapshot.by_pid.get(pid)
            role = proc.role if proc is not None else role_now(pid, self.root)
            if role in SHARED_ROLES:
                continue
            out.append((pid, start))
        return out
