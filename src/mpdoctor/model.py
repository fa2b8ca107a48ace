"""The data model: plain, frozen facts about a process tree, and what was concluded from them.

A :class:`Snapshot` is everything the observers saw at one moment (kernel facts from /proc, Python
stacks from py-spy).  It is plain data: :func:`dump` and :func:`load` turn it into JSON and
back, so the rules in ``mpdoctor.diagnose`` are tested on recorded snapshots without any process.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import sys
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

#: version of the snapshot file format and of the JSON report (``"schema"``)
SCHEMA = 1


class WaitKind(str, enum.Enum):
    """What a thread is doing, as the kernel shows it."""

    RUNNING = "running"  # on a CPU, or runnable
    SLEEP = "sleep"  # nanosleep: ends by itself
    CHILD = "child"  # wait4/waitid: waits for a child to exit
    READ = "read"  # read/recv on one fd
    WRITE = "write"  # write/send on one fd
    POLL = "poll"  # poll/select/epoll over several fds
    FUTEX = "futex"  # a lock, semaphore, condition or thread join
    SIGNAL = "signal"  # pause/sigsuspend: a signal may come from anywhere
    ACCEPT = "accept"  # a listening socket: a connection may come from anywhere
    OTHER = "other"  # another syscall, or stopped outside a syscall
    UNKNOWN = "unknown"  # could not be read (permission, vanished)


#: waits that are no proof of being stuck: the thread runs, or its wait ends by itself or by
#: something from anywhere (a signal, a connection), or it is not understood
LIVE_KINDS = frozenset({WaitKind.RUNNING, WaitKind.SLEEP, WaitKind.SIGNAL, WaitKind.ACCEPT,
                        WaitKind.OTHER, WaitKind.UNKNOWN})


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Role(str, enum.Enum):
    """What a process is, as far as multiprocessing is concerned."""

    MAIN = "main"  # the process mpdoctor started (or attached to)
    CHILD = "child"  # any other process of the tree
    RESOURCE_TRACKER = "resource_tracker"  # multiprocessing.resource_tracker
    FORKSERVER = "forkserver"  # multiprocessing.forkserver: forks workers on request


@dataclass(frozen=True)
class PolledFd:
    """One fd of a poll/select/epoll wait, and the direction it waits for."""

    fd: int
    want_read: bool = True
    want_write: bool = False
    target: str = ""  # what /proc/PID/fd/N points at, e.g. "pipe:[1234]"


@dataclass(frozen=True)
class Wait:
    """A thread's wait, decoded from /proc/PID/task/TID/syscall and resolved on demand."""

    kind: WaitKind
    syscall: str = ""
    #: True when nothing but another thread or process can end the wait (no timeout)
    indefinite: bool = False
    fd: Optional[int] = None
    target: str = ""  # READ/WRITE/ACCEPT: what the fd points at, e.g. "pipe:[1234]"
    count: Optional[int] = None  # READ/WRITE: bytes asked for
    pid: Optional[int] = None  # CHILD: the pid waited for; -1 any child; 0 or < -1 a group
    address: Optional[int] = None  # FUTEX: address of the futex word
    private: Optional[bool] = None  # FUTEX: FUTEX_PRIVATE_FLAG (only this process can wake it)
    shared_key: str = ""  # FUTEX, not private: the shared mapping holding the word ("dev:inode")
    fds: Tuple[PolledFd, ...] = ()  # POLL: the fds waited on (empty: not resolved)
    epoll_fd: Optional[int] = None  # POLL via epoll: the epoll instance

    def describe(self) -> str:
        """A few words for a status line: ``waits for child 7 to exit (wait4)``."""
        tail = "" if self.indefinite or self.kind in (WaitKind.RUNNING, WaitKind.SLEEP) \
            else ", with a timeout"
        if self.kind is WaitKind.RUNNING:
            return "running"
        if self.kind is WaitKind.CHILD:
            who = f"child {self.pid}" if self.pid and self.pid > 0 else "a child"
            return f"waits for {who} to exit ({self.syscall}{tail})"
        what = {WaitKind.READ: f"reads fd {self.fd}", WaitKind.WRITE: f"writes fd {self.fd}",
                WaitKind.POLL: "polls", WaitKind.FUTEX: "waits on a lock",
                WaitKind.SLEEP: "sleeps", WaitKind.ACCEPT: "accepts connections",
                WaitKind.SIGNAL: "waits for a signal"}.get(self.kind, "waits")
        return f"{what} ({self.syscall or self.kind.value}{tail})"


@dataclass(frozen=True)
class Frame:
    """One Python frame (py-spy order: innermost first)."""

    function: str
    filename: str
    line: int
    #: (name, repr) of the locals mpdoctor asked for (only its own hooks' frames)
    locals: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Thread:
    """One thread of a process: what the kernel shows of it, and its Python stack."""

    tid: int
    name: str = ""  # the Python thread name when known, else the kernel's comm
    state: str = "?"  # R, S, D, Z, T ... from /proc/PID/task/TID/stat
    wchan: str = ""
    syscall: str = ""  # the raw /proc/PID/task/TID/syscall line
    wait: Wait = field(default_factory=lambda: Wait(WaitKind.UNKNOWN))
    runs: Optional[int] = None  # times scheduled (schedstat); unchanged = did not run
    #: True when the thread did not run at all between two reads that enclose the resolution
    #: of its wait: the facts recorded about it held together for that whole window
    still: bool = False
    frames: Tuple[Frame, ...] = ()
    python_thread_id: Optional[int] = None  # threading.get_ident() as py-spy reports it


@dataclass(frozen=True)
class Timer:
    """A timer that will, or may, send a signal to a process (its end can wake a wait)."""

    signal: int  # the signal it sends (SIGALRM for alarm()/setitimer(ITIMER_REAL))
    #: "alarm": alarm()/setitimer(ITIMER_REAL), as the hooks saw it set; "posix": a timer of
    #: timer_create(), as /proc/PID/timers shows it (the kernel does not say whether it is armed)
    source: str
    #: when it fires, in CLOCK_MONOTONIC seconds (comparable with ``Snapshot.monotonic``);
    #: None: unknown, it may fire at any moment
    expires: Optional[float] = None
    interval: float = 0.0  # > 0: it fires again and again
    #: it counts CPU time (ITIMER_VIRTUAL/PROF, CPU-time clocks): it cannot fire while every
    #: thread of the process is blocked
    cpu: bool = False
    site: str = ""  # where it was set (file:line), when the hooks saw it
    tid: Optional[int] = None  # a timer aimed at one thread (SIGEV_THREAD_ID)
    #: a watchdog's timer (pytest-timeout's): when it fires the code is failed, not woken to
    #: go on, so it never makes a wait able to end; it still accounts for an armed timer
    watchdog: bool = False


@dataclass(frozen=True)
class Process:
    """One process of the tree: kernel facts, its threads, and what mpdoctor knows of it."""

    pid: int
    ppid: int
    pgid: int = 0
    name: str = ""
    state: str = "?"
    cmdline: Tuple[str, ...] = ()
    role: Role = Role.CHILD
    threads: Tuple[Thread, ...] = ()
    #: why py-spy took no Python stacks (not a Python process, py-spy missing or refused)
    stack_error: str = ""
    #: where the threads' stacks came from: "py-spy", "faulthandler" (from inside the process,
    #: by the hooks, when py-spy could not), or "" (none taken)
    stack_source: str = ""
    #: a zombie's exit: its exit code, or -N if it was killed by signal N
    exit_status: Optional[int] = None
    #: start time in clock ticks since boot (orders processes; a replacement starts later)
    starttime: int = 0
    #: signals it catches and ignores (bit N-1 for signal N: /proc/PID/status SigCgt, SigIgn)
    sig_caught: int = 0
    sig_ignored: int = 0
    #: timers that will or may signal it (see Timer)
    timers: Tuple[Timer, ...] = ()
    #: True when mpdoctor's hooks run in it, so every timer its Python code set is known;
    #: False when they do not (attach, --no-hooks, not Python); None: not known
    hooks: Optional[bool] = None

    def catches(self, signum: int) -> bool:
        return bool(self.sig_caught >> (signum - 1) & 1)

    def ignores(self, signum: int) -> bool:
        return bool(self.sig_ignored >> (signum - 1) & 1)

    @property
    def main_thread(self) -> Optional[Thread]:
        for t in self.threads:
            if t.tid == self.pid:
                return t
        return None


@dataclass(frozen=True)
class Holder:
    """A process holding one end of a pipe or socket, and the fd it holds it by."""

    pid: int
    fd: int


@dataclass(frozen=True)
class Pipe:
    """An anonymous pipe some blocked thread points at, and who holds its two ends."""

    inode: int
    pending: Optional[int] = None  # bytes written and not yet read (FIONREAD)
    capacity: Optional[int] = None  # F_GETPIPE_SZ
    readers: Tuple[Holder, ...] = ()
    writers: Tuple[Holder, ...] = ()
    #: an end is (or may be) held by a process outside the tree, e.g. the caller's terminal
    outside: bool = False


@dataclass(frozen=True)
class Socket:
    """A socket some blocked thread points at (unix, or TCP/UDP), its peer, and who holds
    either end."""

    inode: int
    peer: Optional[int] = None
    kind: str = ""  # "stream", "dgram", "seqpacket"
    pending: Optional[int] = None  # queued for reading on this end
    holders: Tuple[Holder, ...] = ()  # processes of the tree holding this end
    peer_holders: Tuple[Holder, ...] = ()  # processes of the tree holding the peer end
    outside: bool = False
    listening: bool = False  # a listening socket: it waits for connections, not data
    #: what is known about who may connect to a listening socket ("" when nothing is): e.g.
    #: "the forkserver's listener, whose address only processes of this tree were given"
    private: str = ""


@dataclass(frozen=True)
class SharedMapping:
    """A shared memory mapping holding a futex word (a multiprocessing semaphore, say)."""

    key: str  # "dev:inode"
    path: str = ""
    mappers: Tuple[int, ...] = ()  # pids of the tree that map it
    #: a name in /dev/shm still leads to it, so a process that does not map it yet may open it
    #: (glibc maps a named semaphore through a temporary file it deletes: "(deleted)" in the
    #: maps says nothing about whether the semaphore's own name is gone)
    named: bool = False


@dataclass(frozen=True)
class Event:
    """Something the in-process hooks saw (``kind``: pickle-error, put-site, main-guard, ...)."""

    kind: str
    pid: int
    at: float  # time.time() in the process that saw it
    data: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HeldLock:
    """A multiprocessing lock a process holds, from its ledger (hooks/locks.py): kept for
    processes that died holding it."""

    pid: int
    key: str  # the lock's shared memory, "dev:inode" (as Wait.shared_key)
    name: str = ""  # the semaphore's name, when it has one (spawn, forkserver)
    count: int = 0  # acquisitions minus releases by that process (> 0: it holds it)
    tid: int = 0  # the thread of the last acquisition
    site: str = ""  # file:line of the last acquisition
    #: the thread and site are those of the last of its first acquisitions (hooks/locks.py
    #: SAMPLE): later ones updated only the count
    sampled: bool = False


@dataclass(frozen=True)
class Libraries:
    """Where library code lives for the interpreter that ran the target (absolute directories,
    as that interpreter reports them): a frame is the user's unless its file is inside one of
    ``stdlib``, ``site`` or ``mpdoctor`` and not inside a ``user`` directory nested in them
    (the catalogue shipped inside the package)."""

    stdlib: Tuple[str, ...] = ()
    site: Tuple[str, ...] = ()
    mpdoctor: Tuple[str, ...] = ()
    user: Tuple[str, ...] = ()
    #: how they were learnt ("interpreter /usr/bin/python3", "inferred from the stacks")
    source: str = ""


@dataclass(frozen=True)
class Snapshot:
    """Everything the observers saw of the tree at one moment."""

    root_pid: int
    processes: Tuple[Process, ...]
    pipes: Tuple[Pipe, ...] = ()
    shared: Tuple[SharedMapping, ...] = ()
    sockets: Tuple[Socket, ...] = ()
    taken_at: float = 0.0
    #: seconds between the two reads that set ``Thread.still``
    window: float = 0.0
    arch: str = ""
    notes: Tuple[str, ...] = ()  # what could not be seen, and what it would have added
    #: what the in-process hooks reported up to the snapshot (empty without hooks)
    events: Tuple[Event, ...] = ()
    #: whether hooks ran in the tree (False: attach, or hooks disabled)
    hooks: bool = False
    #: the target interpreter's library directories (None: recorded before they were kept;
    #: ``mpdoctor.observe.libpaths.infer`` then reads them from the stacks)
    libraries: Optional[Libraries] = None
    schema: int = SCHEMA
    #: time.monotonic() when the snapshot was taken (timers' expiry is compared with it)
    monotonic: float = 0.0
    #: True once signal dispositions and timers were recorded (snapshots of older versions
    #: have none: their replay cannot take timers into account)
    signals: bool = False
    #: expiry (CLOCK_MONOTONIC seconds) of every alarm()/ITIMER_REAL timer armed on the machine,
    #: from /proc/timer_list; None when it could not be read
    alarm_timers: Optional[Tuple[float, ...]] = None
    #: how many timer_create() timers are armed on the machine (/proc/timer_list); None: unknown
    posix_armed: Optional[int] = None
    #: at a timeout: the Python stacks of the threads that could still act, read again and again
    #: over about a second (what they circle), oldest first
    samples: Tuple["Sample", ...] = ()
    #: the user's multiprocessing locks each process held, from the hooks' ledgers
    locks: Tuple[HeldLock, ...] = ()

    @functools.cached_property
    def by_pid(self) -> Dict[int, Process]:
        return {p.pid: p for p in self.processes}

    @functools.cached_property
    def pipe_by_inode(self) -> Dict[int, Pipe]:
        return {p.inode: p for p in self.pipes}

    @functools.cached_property
    def socket_by_inode(self) -> Dict[int, Socket]:
        return {s.inode: s for s in self.sockets}

    @functools.cached_property
    def shared_by_key(self) -> Dict[str, SharedMapping]:
        return {m.key: m for m in self.shared}

    def children_of(self, pid: int) -> Tuple[Process, ...]:
        return tuple(p for p in self.processes if p.ppid == pid)

    def started_by(self, pid: int) -> Tuple[Process, ...]:
        """The processes ``pid`` started: its children, and the workers a forkserver it runs
        forked on its behalf (they are the forkserver's children, not its own)."""
        out: List[Process] = []
        for c in self.children_of(pid):
            if c.role is Role.FORKSERVER:
                out.extend(self.children_of(c.pid))
            else:
                out.append(c)
        return tuple(out)

    @property
    def root(self) -> Optional[Process]:
        return self.by_pid.get(self.root_pid)


@dataclass(frozen=True)
class Sample:
    """One thread's Python stack at one moment of the sampling at a timeout."""

    at: float  # time.monotonic() of the watcher when it was read
    pid: int
    tid: int
    frames: Tuple[Frame, ...] = ()
    #: py-spy's judgement: the thread was running (True) or idle in a wait or sleep (False)
    active: Optional[bool] = None


@dataclass(frozen=True)
class OomCounter:
    """The OOM-kill counter of one memory cgroup (``oom_kill`` of memory.events or
    memory.oom_control)."""

    path: str  # the file it was read from
    value: int


@dataclass(frozen=True)
class OomFacts:
    """What was known about the kernel's OOM kills for a run (``observe/oom.py``): the cgroup
    counter at the start and at the end, the kernel log's kills by pid (None: not readable),
    and what could not be read."""

    before: Optional[OomCounter] = None
    after: Optional[OomCounter] = None
    kernel: Optional[Dict[int, str]] = None
    unreadable: Tuple[str, ...] = ()

    @property
    def counted(self) -> Optional[int]:
        """OOM kills the cgroup counted during the run (None: not known)."""
        if self.before is None or self.after is None or self.before.path != self.after.path:
            return None
        return self.after.value - self.before.value


@dataclass(frozen=True)
class Finding:
    """One diagnosis: what is wrong, the evidence, and the fix."""

    slug: str
    severity: Severity
    summary: str  # one line
    evidence: Tuple[str, ...] = ()  # human-readable lines, most telling first
    fix: str = ""
    docs: str = ""  # docs page, relative to the project root
    repro: str = ""  # a runnable reproducer of the fix, relative to the project root
    pids: Tuple[int, ...] = ()  # the processes involved
    data: Dict[str, Any] = field(default_factory=dict)  # the same evidence, machine-readable
    #: the stuck threads (pid, tid) this finding explains: later, more generic rules leave them
    explains: Tuple[Tuple[int, int], ...] = ()
    #: the hooks' events this finding already reports (pickling errors, say)
    linked: Tuple[Event, ...] = ()


@dataclass(frozen=True)
class Link:
    """One step of a wait-for chain: thread (pid, tid) waits on something; ``text`` says what."""

    pid: int
    tid: int
    text: str


@dataclass(frozen=True)
class Diagnosis:
    """What the rules concluded from a snapshot."""

    deadlock: bool
    chain: Tuple[Link, ...]
    findings: Tuple[Finding, ...]
    stuck: Tuple[Tuple[int, int], ...]  # (pid, tid) of every thread proven stuck
    #: when nothing is proven: the threads that can still act by themselves, and why
    movable: Tuple[Link, ...] = ()


from mpdoctor.outcome import EventCounts, Outcome, Verdict  # noqa: E402,F401 - re-exported


@dataclass(frozen=True)
class PyThread:
    """One thread's Python stack, as py-spy (or the process itself) reports it."""

    os_tid: int
    name: str
    thread_id: Optional[int]
    frames: Tuple[Frame, ...]
    active: Optional[bool] = None  # py-spy: running (True) or idle (False); None: not known


@dataclass
class Dump:
    """The Python stacks of one process."""

    pid: int
    threads: List[PyThread] = field(default_factory=list)
    error: str = ""  # why there are no stacks
    #: who took the stacks: "py-spy", or "faulthandler" (the hooks, when py-spy could not)
    source: str = "py-spy"
    #: with source "faulthandler": why py-spy could not
    pyspy_error: str = ""


from mpdoctor.fdtargets import (bracketed_inode, channel_inode, pipe_inode,  # noqa: E402,F401
                                socket_inode)


# --------------------------------------------------------------------------------------------
# JSON encoding of the frozen dataclasses above (no third-party dependency, stable field names)


def dump(obj: Any) -> Any:
    """Turn a model object into JSON-ready data (dicts, lists, str, numbers)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, EventCounts):
        return {k: dump(v) for k, v in obj.asdict().items()}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple, frozenset, set)):
        return [dump(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): dump(v) for k, v in obj.items()}
    return obj


T = typing.TypeVar("T")


def load(cls: type[T], data: Any) -> T:
    """Inverse of :func:`dump` for a model class; unknown keys are ignored (newer writers)."""
    return typing.cast(T, _load(cls, data))


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> Dict[str, Any]:
    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


def _load(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:  # Optional[X]
        if data is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _load(inner[0], data)
    if origin in (tuple, Tuple):
        return tuple(_load(args[0], x) for x in data)
    if origin in (dict, Dict):
        return dict(data)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = _load(hints[f.name], data[f.name])
        return tp(**kwargs)
    if tp is Any:
        return data
    if tp is float and isinstance(data, int):
        return float(data)
    return data
