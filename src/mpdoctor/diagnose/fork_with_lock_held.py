"""``fork-with-lock-held``: a forked child waits for a lock that another thread of its parent
held at the moment of the fork.

``fork()`` copies the memory, so the lock arrives locked, but only the forking thread exists in
the child: the thread that would release the lock was not copied.  The kernel shows the child's
only thread asleep on a private futex (a lock only its own threads could release) and no other
thread in the child; the parent has other threads.
"""

from __future__ import annotations

import dataclasses
from typing import List

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import describe, wait_text, who
from mpdoctor.diagnose.waitfor import DEAD_THREAD_STATES, Graph
from mpdoctor.model import Finding, Process, Severity, Thread, WaitKind

SLUG = slug("fork-with-lock-held",
            "a forked child waits for a lock another thread of its parent held at fork time",
            "fork_with_lock_held/fix_spawn.py")
DOCS = "docs/diagnoses/fork-with-lock-held.md"
SPAWNED = "from multiprocessing.spawn import spawn_main"

FIX = ("Do not fork while other threads may hold locks: use the 'spawn' or 'forkserver' start "
       "method (multiprocessing.get_context('spawn')), or start the processes before any "
       "thread, or make the lock fork-safe with os.register_at_fork(before=lock.acquire, "
       "after_in_parent=lock.release, after_in_child=lock.release).")


@rule(Phase.DEADLOCK, 50, (SLUG,))
def check(g: Graph) -> List[Finding]:
    s = g.snapshot
    findings = []
    for proc, thread in list(g.stuck_threads()):
        w = thread.wait
        if w.kind is not WaitKind.FUTEX or not w.private:
            continue
        if SPAWNED in " ".join(proc.cmdline):
            continue  # a fresh interpreter: nothing was inherited locked
        alive = [t for t in proc.threads if t.state not in DEAD_THREAD_STATES]
        if len(alive) != 1:
            continue
        parent = s.by_pid.get(proc.ppid)
        if parent is None:
            continue
        others = [t for t in parent.threads if t.tid != parent.pid]
        if not others:
            continue  # a single-threaded parent: more likely a lock taken twice
        findings.append(dataclasses.replace(_finding(g, proc, thread, parent, others),
                                            explains=((proc.pid, thread.tid),)))
    return findings


def _finding(g: Graph, child: Process, thread: Thread, parent: Process,
             others: List[Thread]) -> Finding:
    s = g.snapshot
    site = stacks.user_frame(thread)
    where = f" at {stacks.where(site)}" if site else ""
    evidence = [describe(s, child, thread),
                f"{who(s, child.pid)} has no other thread: nothing in it can release the lock"]
    for t in others[:3]:
        frame = stacks.user_frame(t)
        evidence.append(f"its parent {parent.pid} has thread {t.name or t.tid} ({t.tid}): "
                        f"{wait_text(s, parent, t)}"
                        + (f" at {stacks.where(frame)}" if frame else "")
                        + " -- a thread like this held the lock when the child was forked")
    # the parent's own wait, if it is what is stuck (joining the child)
    main = parent.main_thread
    if main is not None and g.is_stuck(parent.pid, main.tid):
        evidence.append(describe(s, parent, main))
    summary = (f"{who(s, child.pid)} waits{where} for a lock that another thread of its parent "
               "held when it was forked; that thread does not exist in the child, so the lock "
               "is never released")
    data = {"site": stacks.site(site), "child": {"pid": child.pid, "tid": thread.tid,
                      "site": stacks.site(site)},
            "parent": parent.pid, "parent_threads": [t.tid for t in others]}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
                   fix=FIX, docs=DOCS, pids=(parent.pid, child.pid), data=data)
