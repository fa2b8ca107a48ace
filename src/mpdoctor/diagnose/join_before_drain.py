"""``join-before-drain``: a process waits for a child to exit while that child (or a sibling) is
blocked writing into a pipe that only the waiting process would read.

``Queue.put`` hands the item to a feeder thread that writes it into the queue's pipe; a process
that has put data cannot exit before the feeder has written all of it (``Queue._finalize_join``).
If the one process that reads the queue is itself waiting in ``join()`` for that child, and the
pipe is full, nothing can ever move again.  The same shape arises with ``SimpleQueue.put`` (the
write happens in ``put`` itself), with a plain ``Pipe`` or ``os.pipe``, and with a connected
socket (a ``socketpair``, a loopback TCP connection) whose other end only the joiner holds.

The proof is the kernel's: the joining thread waits for the child's exit (``wait4``, or under
forkserver a ``poll`` on the exit-status pipe), the writer sleeps in ``write`` on the pipe, and
every holder of the pipe's read end is stuck (``mpdoctor.diagnose.waitfor``).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Set, Tuple

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import count, describe, fill, who
from mpdoctor.diagnose.waitfor import Graph, pipe_of, socket_of
from mpdoctor.hooks import protocol
from mpdoctor.model import Finding, Pipe, Process, Role, Severity, Thread, WaitKind

SLUG = slug("join-before-drain",
            "a process joins a child that cannot exit before the process reads what the child "
            "wrote", "join_before_drain/fix_drain_first.py")
DOCS = "docs/diagnoses/join-before-drain.md"
REPRO = "repro/join_before_drain/fix_drain_first.py"


def awaited_children(g: Graph, proc: Process, thread: Thread) -> Set[int]:
    """The children a stuck thread waits to see exit ('' if it is not waiting for an exit)."""
    s = g.snapshot
    w = thread.wait
    if w.kind is WaitKind.CHILD:
        return {node[1] for node in g.wakers.get(("t", proc.pid, thread.tid), ())}
    if w.kind is WaitKind.POLL:
        out: Set[int] = set()
        for f in w.fds:
            pipe = pipe_of(s, f.target)
            if pipe is None or not f.want_read or not pipe.writers:
                continue
            writers = [s.by_pid.get(h.pid) for h in pipe.writers]
            if all(p is not None and p.role is Role.FORKSERVER for p in writers):
                for p in writers:
                    out.update(c.pid for c in s.children_of(p.pid))  # type: ignore[union-attr]
        return out
    return set()


def as_pipe(s, target: str) -> Optional[Pipe]:
    """The channel a write waits on, as a pipe: a pipe itself, or a connected socket (a
    socketpair, a loopback TCP connection) whose readers are the holders of its peer end."""
    pipe = pipe_of(s, target)
    if pipe is not None:
        return pipe
    sock = socket_of(s, target)
    if sock is None or sock.peer is None or sock.listening or sock.outside:
        return None
    return Pipe(sock.inode, None, None, readers=sock.peer_holders, writers=sock.holders)


def blocked_writers(g: Graph) -> List[Tuple[Process, Thread, Pipe]]:
    """Stuck threads sleeping in ``write`` on a pipe or a connected socket."""
    s = g.snapshot
    out = []
    for proc in s.processes:
        for t in proc.threads:
            if not g.is_stuck(proc.pid, t.tid) or t.wait.kind is not WaitKind.WRITE:
                continue
            pipe = as_pipe(s, t.wait.target)
            if pipe is not None:
                out.append((proc, t, pipe))
    return out


def _pids(pids) -> str:
    pids = sorted(pids)
    if len(pids) > 6:
        return f"{', '.join(map(str, pids[:5]))} and {len(pids) - 5} more"
    return ", ".join(map(str, pids))


@rule(Phase.DEADLOCK, 30, (SLUG,))
def check(g: Graph) -> List[Finding]:
    s = g.snapshot
    writers = blocked_writers(g)
    if not writers:
        return []
    findings = []
    used: Set[int] = set()
    for proc in s.processes:
        for t in proc.threads:
            if not g.is_stuck(proc.pid, t.tid):
                continue
            awaited = awaited_children(g, proc, t)
            if not awaited:
                continue
            # pipes this process could drain, filled by stuck writers
            ours = [(wp, wt, pipe) for wp, wt, pipe in writers
                    if wp.pid != proc.pid and any(h.pid == proc.pid for h in pipe.readers)
                    and pipe.inode not in used]
            if not ours:
                continue
            by_pipe: Dict[int, List[Tuple[Process, Thread]]] = {}
            channels: Dict[int, Pipe] = {}
            for wp, wt, pipe in ours:
                by_pipe.setdefault(pipe.inode, []).append((wp, wt))
                channels[pipe.inode] = pipe
            for inode, blocked in by_pipe.items():
                used.add(inode)
                pipe = channels[inode]
                f = _finding(g, proc, t, awaited, pipe, blocked)
                # the whole knot is explained: every stuck process holding an end of the pipe
                knot = set(f.pids) | {h.pid for h in pipe.readers + pipe.writers
                                      if g.process_stuck(h.pid)}
                findings.append(dataclasses.replace(f, explains=tuple(
                    (pid, th.tid) for pid in sorted(knot) for th in s.by_pid[pid].threads)))
    return findings


def _finding(g: Graph, joiner: Process, jt: Thread, awaited: Set[int], pipe: Pipe,
             blocked: List[Tuple[Process, Thread]]) -> Finding:
    s = g.snapshot
    site = stacks.user_frame(jt)
    writer, wthread = blocked[0]
    is_feeder = bool(stacks.in_function(wthread, "multiprocessing/queues.py", ["_feed"]))
    is_socket = pipe.inode in s.socket_by_inode
    what = "queue" if is_feeder else "socket" if is_socket else "pipe"
    stuck_children = sorted(pid for pid in awaited if g.process_stuck(pid))
    waited = stuck_children[0] if stuck_children else writer.pid
    pending = fill(pipe)
    summary = (f"{who(s, joiner.pid)} waits for {who(s, waited)} to exit"
               f"{f' at {stacks.where(site, False)}' if site else ''}, but the child cannot "
               f"exit until the {what} it writes to is drained, and the only reader is the "
               f"waiting process itself")
    evidence = [describe(s, joiner, jt)]
    for pid in stuck_children[:3]:
        child = s.by_pid[pid]
        main = child.main_thread
        if main is not None:
            evidence.append(describe(s, child, main))
    if len(stuck_children) > 3:
        evidence.append(f"... and {len(stuck_children) - 3} more children stuck the same way "
                        f"({_pids(stuck_children[3:])})")
    for wp, wt in blocked[:3]:
        evidence.append(describe(s, wp, wt))
    if len(blocked) > 3:
        evidence.append(f"... and {len(blocked) - 3} more writers blocked on the same pipe")
    # the feeders that wait for the queue's write lock, behind the one writing
    lock_waiters = [
        (p.pid, t.tid) for p in s.processes for t in p.threads
        if g.is_stuck(p.pid, t.tid) and t.wait.kind is WaitKind.FUTEX and not t.wait.private
        and stacks.in_function(t, "multiprocessing/queues.py", ["_feed"])]
    if lock_waiters:
        evidence.append(f"{len(lock_waiters)} more feeder threads wait for the queue's write lock, "
                        "held by the writer above "
                        f"(processes {_pids({p for p, _ in lock_waiters})})")
    readers = sorted({h.pid for h in pipe.readers})
    other_readers = [p for p in readers if p != joiner.pid]
    evidence.append(
        f"{'socket' if is_socket else 'pipe'}:[{pipe.inode}] {pending or 'fill level unknown'}; "
        f"its {'other end' if is_socket else 'read end'} is held by "
        f"{who(s, joiner.pid)} (waiting in join, above)"
        + (f" and by {count(len(other_readers), 'other process')} ({_pids(other_readers)}), "
           "all stuck"
           if other_readers else "")
        + "; none of them can ever read it")
    put_sites = sorted({str(e.data.get("site")) for e in s.events
                        if e.kind == protocol.PUT_SITE and e.data.get("pipe") == pipe.inode})
    if put_sites:
        putters = sorted({e.pid for e in s.events
                          if e.kind == protocol.PUT_SITE and e.data.get("pipe") == pipe.inode})
        evidence.append(f"the items in this queue were put at {', '.join(put_sites[:5])} "
                        f"(by processes {_pids(putters)})")
    if not site:
        evidence.append("(no Python stack for the joining thread: the join line is unknown)")
    fix = ("Drain before you join: get() every item the children put on the queue (or read the "
           "pipe to the end) first, and only then join() them. Or let the children return "
           "results through a Pool or ProcessPoolExecutor.")
    data = {
        "site": stacks.site(site),
        "joiner": {"pid": joiner.pid, "tid": jt.tid,
                   "site": stacks.site(site),
                   "waits_for": sorted(awaited)},
        "pipe": {"inode": pipe.inode, "pending": pipe.pending, "capacity": pipe.capacity,
                 "readers": readers, "writers": sorted({h.pid for h in pipe.writers})},
        "blocked_writers": [{"pid": wp.pid, "tid": wt.tid, "thread": wt.name,
                             "bytes_to_write": wt.wait.count, "feeder": bool(
                                 stacks.in_function(wt, "multiprocessing/queues.py", ["_feed"]))}
                            for wp, wt in blocked],
        "stuck_children": stuck_children,
        "put_sites": put_sites,
    }
    pids = tuple(sorted({joiner.pid, *stuck_children, *(wp.pid for wp, _ in blocked)}))
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
                   fix=fix, docs=DOCS, repro=REPRO, pids=pids, data=data)
