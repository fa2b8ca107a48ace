"""The wait-for graph of a snapshot, and the proof that part of it can never move again.

Every blocked thread waits for *something* that only certain processes or threads can provide:

* ``wait4(pid)``: that child's exit;
* ``read`` on a pipe: a process holding its write end (writing, or exiting: EOF);
* ``write`` on a pipe: a process holding its read end (reading, or exiting: EPIPE);
* ``poll``/``select``/``epoll``: any of the above, for each fd polled;
* a private futex (a thread lock, a condition, ``Thread.join``): another thread of the same
  process;  a futex in shared memory (a multiprocessing semaphore): any process mapping it.

A process can act if any of its threads can.  Starting from what is certainly able to act (a
thread that ran during the observation window, sleeps, waits with a timeout, or waits for
something outside the tree), "can act" spreads along these edges until nothing changes.  What is
left is *stuck*: every thread or process that could wake it is itself stuck.  Nothing in the
proof depends on a timer.

Every process is judged by its own threads, whatever its role: a forkserver, a resource tracker
or a manager counts as stuck only when each of its threads is observed blocked on something
that nothing able to act can provide.  Two kinds of wake-up come from signals rather than fds:

* a timer the process armed (``alarm()``, ``setitimer()``, ``timer_create()``): the signal runs a
  handler that may raise, or its default action ends the process.  Such a process can act until
  the timer has fired; one whose timers cannot be known (no hooks in it) counts as able to act
  unless the machine's timer list shows no timer that could be its (``mpdoctor.observe.timers``);
* ``SIGCHLD`` in a process that catches it (the forkserver does): any of its children's exit.

A listening socket is woken by a connection; it may come from outside the tree, except for a
socket whose address only processes of the tree know (the forkserver's listener).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import AbstractSet, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple, Union

import signal

from mpdoctor.hooks import protocol
from mpdoctor.model import (LIVE_KINDS, Event, Pipe, Process, Role, SharedMapping, Snapshot,
                            Socket, Thread, Timer, Wait, WaitKind, pipe_inode, socket_inode)

TNode = Tuple[str, int, int]  # ("t", pid, tid)
PNode = Tuple[str, int]  # ("p", pid)
Node = Union[TNode, PNode]

DEAD_THREAD_STATES = {"Z", "X", "x"}
RUNNING = "running"
MOVED = "ran during the observation window"
#: the live reason of a thread that only a timer mpdoctor cannot see might wake (starts with it)
HIDDEN_TIMER = "may be signalled by an alarm timer mpdoctor cannot see"
#: how long after its expiry a timer still counts as pending (see observe.timers.MARGIN)
TIMER_MARGIN = 0.5
#: how close an armed ITIMER_REAL of the machine's timer list must be to a reported one
TIMER_MATCH = 0.05
SIGALRM = int(signal.SIGALRM)
SIGCHLD = int(signal.SIGCHLD)
#: a waker set larger than this that several waits share gets a node of its own (see build)
GROUP = 8


def tnode(pid: int, tid: int) -> TNode:
    return ("t", pid, tid)


def pnode(pid: int) -> PNode:
    return ("p", pid)


@dataclass
class Graph:
    snapshot: Snapshot
    #: who could end each blocked thread's wait; a thread absent from here can act by itself
    wakers: Dict[TNode, AbstractSet[Node]] = field(default_factory=dict)
    #: why a thread counts as able to act (for the report of a non-proof)
    live_reason: Dict[TNode, str] = field(default_factory=dict)
    live: Set[Node] = field(default_factory=set)
    #: threads a rule has already explained; later, more generic rules leave them alone (kept
    #: by the rule driver, ``mpdoctor.diagnose.run_rules``, from ``Finding.explains``)
    claimed: Set[Tuple[int, int]] = field(default_factory=set)
    #: hook events a rule has already reported as part of a deadlock finding (``Finding.linked``)
    linked_events: List[Event] = field(default_factory=list)

    _stuck: Optional[FrozenSet[TNode]] = None

    @property
    def stuck(self) -> FrozenSet[TNode]:
        """Threads nothing able to act can wake (fixed once ``build`` has run)."""
        if self._stuck is None:
            self._stuck = frozenset(n for n in self.wakers if n not in self.live)
        return self._stuck

    def is_stuck(self, pid: int, tid: Optional[int] = None) -> bool:
        return tnode(pid, pid if tid is None else tid) in self.stuck

    def process_stuck(self, pid: int) -> bool:
        return pnode(pid) not in self.live and pid in self.snapshot.by_pid

    @property
    def deadlocked(self) -> bool:
        """The script's main thread can never move again (so the script can never end)."""
        return self.is_stuck(self.snapshot.root_pid)

    def stuck_threads(self, roles=(Role.MAIN, Role.CHILD)):
        """(process, thread) for every stuck, unclaimed thread of the given roles."""
        for p in self.snapshot.processes:
            if p.role not in roles:
                continue
            for t in p.threads:
                if self.is_stuck(p.pid, t.tid) and (p.pid, t.tid) not in self.claimed:
                    yield p, t


def pipe_of(snapshot: Snapshot, target: str) -> Optional[Pipe]:
    inode = pipe_inode(target)
    return None if inode is None else snapshot.pipe_by_inode.get(inode)


def socket_of(snapshot: Snapshot, target: str) -> Optional[Socket]:
    inode = socket_inode(target)
    return None if inode is None else snapshot.socket_by_inode.get(inode)


_EVERYONE: Dict[int, Tuple[Snapshot, FrozenSet[Node]]] = {}


def _everyone(snapshot: Snapshot) -> FrozenSet[Node]:
    """Every process of the tree still there (not a zombie), as one shared set: many waits can
    be ended by any of them (a named semaphore, a private listener), and building that set
    for each waiter would make the proof quadratic in the size of the tree."""
    cached = _EVERYONE.get(id(snapshot))
    if cached is not None and cached[0] is snapshot:
        return cached[1]
    out = frozenset(pnode(p.pid) for p in snapshot.processes if p.state != "Z")
    _EVERYONE.clear()  # one snapshot at a time (keeps the snapshot alive only meanwhile)
    _EVERYONE[id(snapshot)] = (snapshot, out)
    return out


def _holders(pids: Iterable[int]) -> Set[Node]:
    """The processes holding an end: each acts (or not) by its own threads."""
    return {pnode(pid) for pid in pids}


_MAPPERS: Dict[int, Tuple[SharedMapping, FrozenSet[Node]]] = {}


def _mappers(snapshot: Snapshot, mapping: SharedMapping) -> FrozenSet[Node]:
    """The processes that map a shared lock, as one set for every waiter on it (a thousand
    feeders waiting for one queue's write lock share it)."""
    cached = _MAPPERS.get(id(mapping))
    if cached is not None and cached[0] is mapping:
        return cached[1]
    if len(_MAPPERS) > 64:
        _MAPPERS.clear()
    out = frozenset(pnode(pid) for pid in mapping.mappers)
    _MAPPERS[id(mapping)] = (mapping, out)
    return out


_WAKERS: Dict[Tuple[int, str, bool, bool], Tuple[Snapshot, Tuple[Optional[AbstractSet[Node]],
                                                                  str]]] = {}


def _pipe_wakers(snapshot: Snapshot, target: str, want_read: bool,
                 want_write: bool) -> Tuple[Optional[AbstractSet[Node]], str]:
    """Wakers of a wait on one fd; ``None`` (with a reason) when it may be woken any time.
    One frozen set per pipe end and snapshot, shared by every wait on it: a thousand feeders
    writing to one queue's pipe share one set of its readers (and ``build`` gives it one node),
    instead of a thousand copies of a thousand holders."""
    key = (id(snapshot), target, want_read, want_write)
    cached = _WAKERS.get(key)
    if cached is not None and cached[0] is snapshot:
        return cached[1]
    if _WAKERS and next(iter(_WAKERS.values()))[0] is not snapshot:
        _WAKERS.clear()  # one snapshot at a time
    ws, why = _pipe_wakers_of(snapshot, target, want_read, want_write)
    found = (frozenset(ws) if ws is not None else None, why)
    _WAKERS[key] = (snapshot, found)
    return found


def _pipe_wakers_of(snapshot: Snapshot, target: str, want_read: bool,
                    want_write: bool) -> Tuple[Optional[AbstractSet[Node]], str]:
    if not target:
        return None, "its fd could not be resolved"
    sock = socket_of(snapshot, target)
    if sock is not None:
        return _socket_wakers(snapshot, sock, target, want_read)
    pipe = pipe_of(snapshot, target)
    if pipe is None:
        return None, f"it waits on {target}, which may be fed from outside the tree"
    if pipe.outside:
        return None, f"{target} is connected to the outside of the tree"
    wakers: Set[Node] = set()
    if want_read:
        if pipe.pending:
            return None, f"{target} has data to read"
        if not pipe.writers:
            return None, f"{target} has no writer left (end of file)"
        wakers |= _holders(h.pid for h in pipe.writers)
    if want_write:
        if not pipe.readers:
            return None, f"{target} has no reader left (broken pipe)"
        wakers |= _holders(h.pid for h in pipe.readers)
    return wakers, ""


def _socket_wakers(snapshot: Snapshot, sock: Socket, target: str,
                   want_read: bool) -> Tuple[Optional[AbstractSet[Node]], str]:
    """A connected socket (unix, or TCP/UDP with its peer on this host): only the holders of
    the peer end can write to it (or read what it sends); with no peer, or a peer outside the
    tree, anything can happen."""
    if sock.outside:
        return None, f"{target} is connected to the outside of the tree"
    if sock.listening:
        if not sock.private:
            return None, f"{target} is a listening socket: a connection may come from outside"
        # a connection can come from any process of the tree that is still there
        return _everyone(snapshot), ""
    if sock.peer is None or sock.kind not in ("stream", "seqpacket", "dgram"):
        return None, f"{target} is not a connected socket of this host"
    if want_read and sock.pending:
        return None, f"{target} has data to read"
    if not sock.peer_holders:
        return None, f"the peer of {target} is closed or held outside the tree"
    return _holders(h.pid for h in sock.peer_holders), ""


#: joblib's Parallel collects results in a loop of these functions (joblib >= 1.3)
JOBLIB = "joblib/parallel.py"
JOBLIB_LOOP = ("_retrieve", "_wait_retrieval", "get_status")


def collects_without_deadline(snapshot: Snapshot, proc: Process, thread: Thread) -> bool:
    """Is ``thread`` in joblib's result loop for a ``Parallel`` call without a timeout?  The
    stack says where it is (the innermost frame, as it sleeps between looks); the hooks said
    that its call has no deadline (``joblib-wait``).  Without the hooks: not known, and then
    the loop counts as able to act."""
    if not thread.frames:
        return False
    inner = thread.frames[0]
    if not (inner.filename.endswith(JOBLIB)
            and inner.function.rsplit(".", 1)[-1] in JOBLIB_LOOP):
        return False
    told = None
    for e in snapshot.events:
        if e.kind == protocol.JOBLIB_WAIT and e.pid == proc.pid and e.data.get("tid") == thread.tid:
            told = e.data.get("deadline")
    return told is False


def wakers_of(snapshot: Snapshot, proc: Process,
              thread: Thread) -> Tuple[Optional[AbstractSet[Node]], str]:
    """Who could end this thread's wait.  ``None`` means the thread can act by itself; the
    string says why (for the record)."""
    w: Wait = thread.wait
    if thread.state not in ("D", "T", "t") and collects_without_deadline(snapshot, proc, thread):
        # joblib's result loop polls (sleeps 10 ms between looks); only the backend's callback
        # thread, in this process, can end it
        return {tnode(proc.pid, t.tid) for t in proc.threads
                if t.tid != thread.tid and t.state not in DEAD_THREAD_STATES}, ""
    if thread.state in ("R",) or w.kind is WaitKind.RUNNING:
        return None, RUNNING
    if thread.state in ("D", "T", "t"):
        return None, {"D": "in uninterruptible I/O", "T": "stopped",
                      "t": "being traced"}[thread.state]
    if w.kind in LIVE_KINDS:
        return None, f"{w.kind.value} ({w.syscall or 'no syscall'})"
    if not w.indefinite:
        return None, f"waits with a timeout ({w.syscall})"
    if not thread.still:
        return None, MOVED
    if w.kind is WaitKind.CHILD:
        kids = snapshot.children_of(proc.pid)
        if w.pid is not None and w.pid > 0:
            if w.pid not in snapshot.by_pid:
                return None, f"waits for pid {w.pid}, which is not in the snapshot"
            return {pnode(w.pid)}, ""
        if not kids:
            return None, "waits for children but has none"
        return {pnode(k.pid) for k in kids}, ""
    if w.kind in (WaitKind.READ, WaitKind.WRITE):
        return _pipe_wakers(snapshot, w.target, w.kind is WaitKind.READ, w.kind is WaitKind.WRITE)
    if w.kind is WaitKind.POLL:
        if not w.fds:
            return None, "the polled fds could not be resolved"
        out: Set[Node] = set()
        for f in w.fds:
            ws, why = _pipe_wakers(snapshot, f.target, f.want_read, f.want_write)
            if ws is None:
                return None, why
            out |= ws
        return out, ""
    if w.kind is WaitKind.FUTEX:
        if w.private:
            return {tnode(proc.pid, t.tid) for t in proc.threads
                    if t.tid != thread.tid and t.state not in DEAD_THREAD_STATES}, ""
        mapping = snapshot.shared_by_key.get(w.shared_key) if w.shared_key else None
        if mapping is None or not mapping.mappers:
            return None, "a shared futex whose mapping could not be resolved"
        if mapping.named:
            # a semaphore that still has its name (spawn and forkserver keep multiprocessing's
            # until it is released): a process that does not map it yet may open it later (a
            # spawned child unpickling its Event, say), so any process of the tree may wake it
            # (a zombie opens nothing)
            return _everyone(snapshot), ""
        if _sealed(mapping.path):
            return _mappers(snapshot, mapping), ""
        return None, f"a futex in {mapping.path}, which other programs may open"
    return None, f"{w.kind.value}"


def _sealed(path: str) -> bool:
    """Shared memory no new process can open (when no name leads to it any more, see
    ``SharedMapping.named``): only the processes that map it now, and children they fork, can
    ever touch it.  Deleted files and anonymous shared memory."""
    return (path.endswith("(deleted)") or path.startswith("/dev/zero")
            or path.startswith("/SYSV") or path == "")


def signal_target(proc: Process) -> Optional[Thread]:
    """The thread a signal sent to the process interrupts (and where Python runs its handlers):
    the main thread, unless it has ended."""
    main = proc.main_thread
    if main is not None and main.state not in DEAD_THREAD_STATES:
        return main
    return next((t for t in proc.threads if t.state not in DEAD_THREAD_STATES), None)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _pending(snapshot: Snapshot, timer: Timer) -> bool:
    if timer.expires is None or timer.interval > 0:
        return True
    return timer.expires - snapshot.monotonic > -TIMER_MARGIN


def unaccounted_alarms(snapshot: Snapshot) -> Optional[int]:
    """How many ITIMER_REAL timers armed on the machine are none that the hooks reported (None:
    the machine's timer list could not be read)."""
    if snapshot.alarm_timers is None:
        return None
    known = [t for p in snapshot.processes for t in p.timers
             if t.source == "alarm" and t.expires is not None]

    def matches(at: float, t: Timer) -> bool:
        assert t.expires is not None
        if t.interval > 0 and at > t.expires:
            off = (at - t.expires) % t.interval
            return min(off, t.interval - off) <= TIMER_MATCH
        return abs(at - t.expires) <= TIMER_MATCH

    return sum(1 for at in snapshot.alarm_timers if not any(matches(at, t) for t in known))


def timer_reason(snapshot: Snapshot, proc: Process, hidden: bool = True) -> str:
    """Why a timer may still signal this process, or "" if none can.  ``hidden=False`` leaves
    out timers mpdoctor cannot see (to tell the user what the proof would be without them)."""
    if not snapshot.signals or proc.state in ("Z", "X"):
        return ""
    for t in proc.timers:
        if t.cpu or t.watchdog or proc.ignores(t.signal) or not _pending(snapshot, t):
            continue
        name = _signal_name(t.signal)
        at = f", set at {t.site}" if t.site else ""
        if t.source == "posix":
            if snapshot.posix_armed == 0:
                continue  # no timer_create() timer is armed on the whole machine
            return f"a timer_create() timer may signal it ({name})"
        if t.interval > 0:
            return f"a repeating timer signals it ({name} every {t.interval:g} s{at})"
        assert t.expires is not None
        left = max(0.0, t.expires - snapshot.monotonic)
        return f"a timer will signal it ({name} in {left:.1f} s{at})"
    if not hidden or proc.hooks or proc.ignores(SIGALRM):
        return ""
    unaccounted = unaccounted_alarms(snapshot)
    if unaccounted == 0:
        return ""  # no alarm timer is armed on the machine that is not known
    how = ("it catches SIGALRM" if proc.catches(SIGALRM)
           else "SIGALRM's default action would end it")
    if unaccounted is None:
        where = "the machine's timer list (/proc/timer_list) cannot be read"
    else:
        where = (f"{unaccounted} alarm timer{'s' if unaccounted != 1 else ''} armed on this "
                 "machine belong to no process mpdoctor knows")
    return f"{HIDDEN_TIMER} (mpdoctor's hooks do not run in it, {how}, and {where})"


def build(snapshot: Snapshot, hidden_timers: bool = True,
          pollers: AbstractSet[Tuple[int, int]] = frozenset()) -> Graph:
    """The wait-for graph and the least fixpoint of "can act".  ``hidden_timers=False``
    assumes that processes without hooks have no timer (never for a verdict: only to say what
    the proof would be without that doubt).  ``pollers``: threads (pid, tid) seen circling a
    polling loop, taken as waiting for a change that any other thread of the tree might make,
    rather than as able to act by themselves (never for a verdict: only to say that nothing
    else in the tree can make that change)."""
    g = Graph(snapshot)
    dependents: Dict[Node, List[Node]] = {}
    groups: Dict[int, Node] = {}  # id of a shared waker set -> the node standing for it
    queue: deque = deque()

    def mark(node: Node) -> None:
        if node not in g.live:
            g.live.add(node)
            queue.append(node)

    for proc in snapshot.processes:
        pn = pnode(proc.pid)
        if proc.state in ("Z", "X", "T", "t", "D"):
            mark(pn)  # an exit is pending, or it is stopped/in I/O: count it as able to act
        target = signal_target(proc)
        timer = timer_reason(snapshot, proc, hidden_timers) if target is not None else ""
        # a process that catches SIGCHLD is interrupted when a child ends (the forkserver
        # wakes up that way to report a worker's exit)
        sigchld = {pnode(c.pid) for c in snapshot.children_of(proc.pid) if c.state != "Z"} \
            if snapshot.signals and proc.catches(SIGCHLD) and target is not None else set()
        for t in proc.threads:
            if t.state in DEAD_THREAD_STATES and t.tid != proc.pid:
                continue
            tn = tnode(proc.pid, t.tid)
            dependents.setdefault(tn, []).append(pn)  # a process acts through any thread
            ws, why = wakers_of(snapshot, proc, t)
            if (proc.pid, t.tid) in pollers:
                ws, why = _everyone(snapshot) | {
                    tnode(proc.pid, o.tid) for o in proc.threads
                    if o.tid != t.tid and o.state not in DEAD_THREAD_STATES}, ""
            if ws is not None and t is target and timer:
                ws, why = None, timer
            if ws is not None and t is target and sigchld:
                ws = ws | sigchld
            if ws is None:
                g.live_reason[tn] = why
                g.wakers.setdefault(tn, set())
                mark(tn)
                continue
            g.wakers[tn] = ws
            if len(ws) > GROUP and isinstance(ws, frozenset):
                # a set many waits share: one node stands for it, so that the edges stay
                # linear in the size of the tree (any member that can act makes it act)
                group = groups.get(id(ws))
                if group is None:
                    group = groups[id(ws)] = ("g", len(groups))
                    for w in ws:
                        dependents.setdefault(w, []).append(group)
                dependents.setdefault(group, []).append(tn)
                continue
            for w in ws:
                dependents.setdefault(w, []).append(tn)
    # a thread waiting on something absent from the snapshot can act (we cannot see it)
    checked: Dict[int, bool] = {}
    for tn, ws in g.wakers.items():
        absent = checked.get(id(ws))
        if absent is None:
            absent = any(w[0] == "p" and w[1] not in snapshot.by_pid for w in ws)
            if isinstance(ws, frozenset):
                checked[id(ws)] = absent
        if absent:
            mark(tn)
    while queue:
        node = queue.popleft()
        for dep in dependents.get(node, ()):
            mark(dep)
    return g


# --------------------------------------------------------------------------------------------
# the chain shown to the user


def successors(g: Graph, node: TNode) -> List[TNode]:
    """Stuck threads that could end this thread's wait, in the order that best tells the story:
    for a child's exit, the child's main thread first; for a pipe or a shared lock, the threads
    doing pipe I/O first (the one holding the lock is among them)."""
    s = g.snapshot
    me = s.by_pid[node[1]]
    wait = next(t.wait for t in me.threads if t.tid == node[2])
    out: List[TNode] = []

    def doing_io(w: Node) -> bool:
        proc = s.by_pid.get(w[1])
        return w[0] == "p" and proc is not None and any(
            t.wait.kind in (WaitKind.WRITE, WaitKind.READ) and tnode(proc.pid, t.tid) not in g.live
            for t in proc.threads)

    # processes with a thread in pipe I/O first: a shared lock's holder is among them
    wakers = sorted(g.wakers.get(node, ()), key=lambda w: (not doing_io(w), w))
    for w in wakers:
        if w in g.live:
            continue
        if w[0] == "t":
            out.append(w)  # type: ignore[arg-type]
            continue
        proc = s.by_pid.get(w[1])
        if proc is None:
            continue
        threads = [t for t in proc.threads if tnode(proc.pid, t.tid) not in g.live]
        if wait.kind is WaitKind.CHILD or (wait.kind is WaitKind.POLL and proc.role is Role.CHILD):
            threads.sort(key=lambda t: (t.tid != proc.pid, t.tid))
        else:
            threads.sort(key=lambda t: (t.wait.kind not in (WaitKind.WRITE, WaitKind.READ),
                                        t.tid == proc.pid, t.tid))
        out.extend(tnode(proc.pid, t.tid) for t in threads)
    return out


def chain(g: Graph, start: Optional[TNode] = None) -> List[TNode]:
    """A closed wait cycle through ``start`` (the script's main thread by default), as the list
    of threads along it, ending with ``start`` again.  When ``start`` is not on a cycle: the path
    from it to the first thread that repeats, or to a thread nobody could wake.

    Depth-first with a visited set (linear in the graph), following the most telling edges
    first; the proof does not depend on which cycle is shown."""
    start = start or tnode(g.snapshot.root_pid, g.snapshot.root_pid)
    if start in g.live or start not in g.wakers:
        return []
    visited = {start}
    path: List[TNode] = [start]
    iters = [iter(successors(g, start))]
    longest: List[TNode] = [start]
    while iters:
        nxt = next(iters[-1], None)
        if nxt is None:
            iters.pop()
            path.pop()
            continue
        if nxt == start:
            return path + [start]
        if nxt in visited:
            continue
        visited.add(nxt)
        path.append(nxt)
        if len(path) > len(longest):
            longest = list(path)
        iters.append(iter(successors(g, nxt)))
    return longest
