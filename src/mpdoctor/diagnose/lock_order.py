"""``lock-order-inversion``: processes wait in a circle, each for a multiprocessing lock that
the next one holds (the classic A-then-B against B-then-A).

Each waiter sleeps on a futex in its lock's shared memory; the hooks' ledgers
(``hooks/locks.py``) say which living process, and which of its threads, holds each of the
user's locks and where it took it.  Following "waits for lock X, held by thread T" from thread
to thread comes back to the start: none can ever go on.  Without the ledgers (``attach``,
``--no-hooks``) the holders are unknown and the same deadlock is ``never-signalled``.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import describe, who
from mpdoctor.diagnose.reentered import acquired_at
from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose.waitfor import Graph
from mpdoctor.model import Finding, HeldLock, Process, Severity, Thread, WaitKind

SLUG = slug("lock-order-inversion",
            "processes wait in a circle, each for a multiprocessing lock the next one holds",
            "lock_order_inversion/fix_one_order.py")
DOCS = "docs/diagnoses/lock-order-inversion.md"

FIX = ("Take locks in one order everywhere (for example always A before B: sort them by a "
       "fixed key when a task needs several), or hold one lock at a time, or use a single lock "
       "for the state they guard. Where that cannot be, acquire the second lock with a timeout "
       "(lock.acquire(timeout=...)), and on failure release the first and start over.")

TNode = Tuple[int, int]


class Step(NamedTuple):
    """One thread of the circle: what it waits for, and who holds that."""

    proc: Process
    thread: Thread
    key: str  # the lock it waits for ("dev:inode" of its shared memory)
    holder: HeldLock  # the ledger entry of the thread that holds it


@rule(Phase.DEADLOCK, 46, (SLUG,))
def check(g: Graph) -> List[Finding]:
    s = g.snapshot
    if not s.locks:
        return []
    holders: Dict[str, List[HeldLock]] = {}
    for h in s.locks:
        if h.count > 0:
            holders.setdefault(h.key, []).append(h)
    negative = {h.key for h in s.locks if h.count < 0}  # a signalling semaphore: no holder
    steps: Dict[TNode, Step] = {}
    for proc, thread in g.stuck_threads():
        w = thread.wait
        if w.kind is not WaitKind.FUTEX or w.private or w.shared_key in negative:
            continue
        held = [h for h in holders.get(w.shared_key, ())
                if g.is_stuck(h.pid, h.tid) and (h.pid, h.tid) != (proc.pid, thread.tid)]
        if len(held) == 1:  # (a semaphore held by several: not one thread to follow)
            steps[(proc.pid, thread.tid)] = Step(proc, thread, w.shared_key, held[0])
    out = []
    done: set = set()
    for start in sorted(steps):
        if start in done:
            continue
        circle = _circle(steps, start)
        if circle is None or any(n in done for n in circle):
            continue
        done.update(circle)
        out.append(_finding(g, [steps[n] for n in circle]))
    return out


def _circle(steps: Dict[TNode, Step], start: TNode) -> Optional[List[TNode]]:
    """The threads from ``start`` following "held by" until ``start`` comes back; None if the
    path leaves the waiters or loops elsewhere."""
    path = [start]
    node = start
    while True:
        h = steps[node].holder
        nxt = (h.pid, h.tid)
        if nxt == start:
            return path if len(path) > 1 else None
        if nxt not in steps or nxt in path:
            return None
        path.append(nxt)
        node = nxt


def _wanted(step: Step) -> str:
    """How the waiting line names the lock (``second``, ``self.lock_b``), or "a lock"."""
    site = stacks.user_frame(step.thread)
    expr = acquired_at(site) if site is not None else None
    return f"`{expr}`" if expr else "a lock"


def _finding(g: Graph, circle: List[Step]) -> Finding:
    s = g.snapshot
    first = circle[0]
    parts = []
    for step in circle:
        site = stacks.user_frame(step.thread)
        at = f" at {stacks.where(site, False)}" if site else ""
        parts.append(f"{who(s, step.proc.pid)} waits{at} for {_wanted(step)}, which "
                     f"{who(s, step.holder.pid)} holds")
    summary = f"{'; '.join(parts)}: locks taken in opposite orders, none can ever go on"
    evidence = []
    for step in circle:
        h = step.holder
        evidence.append(describe(s, step.proc, step.thread))
        evidence.append(f"the lock it waits for is held by {who(s, h.pid)}, thread {h.tid}"
                        + (f", which took it at {h.site}" if h.site else "")
                        + " (the hooks' lock ledger)")
    data = {"site": stacks.site(stacks.user_frame(first.thread)),
            "circle": [{"pid": st.proc.pid, "tid": st.thread.tid,
                        "site": stacks.site(stacks.user_frame(st.thread)),
                        "waits_for": st.key,
                        "held_by": {"pid": st.holder.pid, "tid": st.holder.tid,
                                    "site": st.holder.site}} for st in circle]}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary,
                   evidence=tuple(evidence), fix=FIX, docs=DOCS,
                   pids=tuple(sorted({st.proc.pid for st in circle})), data=data,
                   explains=tuple((st.proc.pid, st.thread.tid) for st in circle))
