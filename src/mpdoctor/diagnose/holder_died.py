"""``lock-holder-died``: a process waits for a multiprocessing lock (a ``Lock``, an ``RLock``,
a ``Condition``'s lock, a ``Semaphore``'s slots) that a process which has died still holds.

A ``multiprocessing`` lock lives in shared memory and is released only by an explicit
``release()``: a process that dies inside ``with lock:`` (killed by a signal, ``terminate()``,
``os._exit``, the OOM killer) takes the release with it, and every later ``acquire()`` waits
for ever.

The proof is the wait-for graph's (the waiter is on a futex in the lock's shared memory, and
every process that maps it is stuck or gone).  The hooks' ledgers (``hooks/locks.py``) say who
held it: each process's count of acquisitions minus releases of each of the user's locks, and
where it took it.  A process that is dead and whose count is above zero died holding it.  A
semaphore that some process released more often than it acquired is used to signal, not to
hold: no holder is named for it (``never-signalled`` describes such waits).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import count, describe, exit_text, listing, who
from mpdoctor.diagnose.exit_blocked import waiting_for
from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose.waitfor import Graph
from mpdoctor.hooks import protocol
from mpdoctor.model import (Event, Finding, HeldLock, Process, Severity, Snapshot, Thread,
                            WaitKind)

SLUG = slug("lock-holder-died",
            "a process waits for a multiprocessing lock that a dead process still holds",
            "lock_holder_died/fix_release_in_finally.py")

FIX = ("Never let a process die holding a shared lock: stop workers with a message or an Event "
       "they check (and let them leave their `with lock:` block), not terminate() or kill(); "
       "keep the work done under the lock short and free of anything that can exit the "
       "process (os._exit, sys.exit in a child). Where a holder may die anyway (the OOM "
       "killer), acquire with a timeout and treat a timeout as a broken lock: recreate it and "
       "the state it guarded.")


def _dead(s: Snapshot, pid: int) -> bool:
    p = s.by_pid.get(pid)
    return p is None or p.state in ("Z", "X")


def _death(s: Snapshot, pid: int) -> str:
    """How a process died, as far as the snapshot and the hooks' events tell."""
    p = s.by_pid.get(pid)
    how = ""
    if p is not None and p.state == "Z":
        how = exit_text(p.exit_status) + " (not yet joined)"
    else:
        for e in s.events:
            if e.kind == protocol.CHILD_EXIT and e.data.get("child") == pid:
                how = exit_text(e.data.get("exitcode"))
                break
    err = _uncaught(s.events, pid)
    if err is not None:
        at = err.data.get("site")
        how = (how + ", after " if how else "died of ") + f"{err.data.get('error')}" + (
            f" (at {at})" if at else "")
    return how or "is gone"


def _uncaught(events: Sequence[Event], pid: int) -> Optional[Event]:
    return next((e for e in events if e.kind == protocol.UNCAUGHT and e.pid == pid), None)


@rule(Phase.DEADLOCK, 44, (SLUG,))
def check(g: Graph) -> List[Finding]:
    s = g.snapshot
    if not s.locks:
        return []
    by_key: Dict[str, List[HeldLock]] = {}
    for h in s.locks:
        by_key.setdefault(h.key, []).append(h)
    waiting: Dict[str, List[Tuple[Process, Thread]]] = {}
    for proc, thread in g.stuck_threads():
        w = thread.wait
        if w.kind is WaitKind.FUTEX and not w.private and w.shared_key in by_key:
            waiting.setdefault(w.shared_key, []).append((proc, thread))
    out = []
    for key, waiters in sorted(waiting.items()):
        entries = by_key[key]
        if any(h.count < 0 for h in entries):
            continue  # released more than acquired somewhere: a signal, not a lock
        dead = [h for h in entries if h.count > 0 and _dead(s, h.pid)]
        if not dead:
            continue
        out.append(_finding(g, key, waiters, dead, entries))
    return out


def _finding(g: Graph, key: str, waiters: List[Tuple[Process, Thread]],
             dead: List[HeldLock], entries: List[HeldLock]) -> Finding:
    s = g.snapshot
    proc, thread = waiters[0]
    site = stacks.user_frame(thread)
    at = f" at {stacks.where(site, False)}" if site else ""
    slots = sum(h.count for h in dead)
    what = "a lock" if slots == 1 else f"{slots} slots of a semaphore"
    holders = (f"dead process {dead[0].pid} still holds" if len(dead) == 1 else
               f"dead processes {listing([str(h.pid) for h in dead])} still hold")
    summary = (f"{who(s, proc.pid)} waits{at} for {what} that {holders}: "
               f"{'it was' if slots == 1 else 'they were'} never released")
    evidence = [describe(s, p, t) for p, t in waiters[:4]]
    for h in dead[:4]:
        took = f" at {h.site}" if h.site else ""
        if h.site and h.sampled:
            took += (" (where it last took it among its first acquisitions: later ones were "
                     "counted, not located)")
        times = "" if h.count == 1 else f" ({count(h.count, 'time')} more than it released it)"
        evidence.append(f"process {h.pid} took it{took} (thread {h.tid}){times}, and "
                        f"{_death(s, h.pid)} before releasing it")
    alive = [h for h in entries if h.count > 0 and not _dead(s, h.pid)]
    if alive:
        evidence.append("also held by live " + listing([who(s, h.pid) for h in alive])
                        + ", stuck as well")
    evidence.append("a multiprocessing lock is released only by release(); a process that "
                    "dies holding it never calls it, and the lock stays taken for ever")
    explains = []
    for p, t in waiters:
        explains.append((p.pid, t.tid))
        explains.extend((j.pid, jt.tid) for j, jt in waiting_for(g, p) if p is not s.root)
    name = next((h.name for h in entries if h.name), "")
    data = {"site": stacks.site(site), "lock": {"key": key, "name": name},
            "waiters": [{"pid": p.pid, "tid": t.tid, "site": stacks.site(stacks.user_frame(t))}
                        for p, t in waiters],
            "holders": [{"pid": h.pid, "tid": h.tid, "count": h.count, "site": h.site,
                         "death": _death(s, h.pid)} for h in dead]}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary,
                   evidence=tuple(evidence), fix=FIX,
                   pids=tuple(sorted({p.pid for p, _ in waiters} | {h.pid for h in dead})),
                   data=data, explains=tuple(explains))
