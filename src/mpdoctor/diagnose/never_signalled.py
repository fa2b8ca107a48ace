"""``never-signalled``: ``Event.wait()``, ``Condition.wait()``, ``Barrier.wait()``,
``Semaphore.acquire()`` or ``JoinableQueue.join()`` without timeout, and no live process or
thread is left that could signal it.

The kernel shows the waiter asleep on a futex with no timeout; for a multiprocessing primitive
the futex lives in shared memory, and every process mapping that memory is stuck or gone; for a
threading primitive, every other thread of the process is stuck.  The Python stack names the
primitive and the line.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Tuple

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import dead_children, describe, listing, who
from mpdoctor.diagnose.waitfor import Graph
from mpdoctor.model import Finding, Process, Severity, Thread, WaitKind

SLUG = slug("never-signalled",
            "`Event`/`Condition`/`Barrier`/`Semaphore`/`JoinableQueue.join()` that nothing "
            "alive can signal", "never_signalled/fix_signal_always.py")
DOCS = "docs/diagnoses/never-signalled.md"

# the call the user made -> (what it is, who must signal it, the fix)
PRIMITIVES = {
    "JoinableQueue.join": (
        "JoinableQueue.join()", "a consumer calling task_done() for every item",
        "Call task_done() exactly once for every get(), on every code path (in a try/finally), "
        "and make sure consumers outlive the items they were given."),
    "Event.wait": (
        "Event.wait()", "a process or thread calling set()",
        "Set the event on every path (try/finally in the code that should set it), or wait with "
        "a timeout and check that the setter is still alive (p.is_alive(), p.exitcode)."),
    "Condition.wait": (
        "Condition.wait()", "a process or thread calling notify()",
        "Make every path that changes the awaited state notify (in a try/finally), or wait with "
        "a timeout and re-check the state and the notifier's liveness."),
    "Condition.wait_for": (
        "Condition.wait_for()", "a process or thread changing the state and calling notify()",
        "Make every path that changes the awaited state notify, or pass a timeout."),
    "Barrier.wait": (
        "Barrier.wait()", "every other party reaching the barrier",
        "A party that died can never arrive: wait with a timeout, and abort() the barrier when a "
        "party fails."),
    "Semaphore.acquire": (
        "Semaphore.acquire()", "a process or thread calling release()",
        "Release on every path (use `with sem:`), or acquire with a timeout."),
    "BoundedSemaphore.acquire": (
        "BoundedSemaphore.acquire()", "a process or thread calling release()",
        "Release on every path (use `with sem:`), or acquire with a timeout."),
    "queue.Queue.get": (
        "queue.Queue.get()", "another thread of this process calling put()",
        "A queue.Queue only connects threads of one process: a child process that received it "
        "works on its own copy. Use multiprocessing.Queue between processes; within a process, "
        "make sure a thread puts, or get(timeout=...)."),
    "queue.Queue.join": (
        "queue.Queue.join()", "a thread calling task_done() for every item",
        "Call task_done() for every get(), in a finally block."),
    "queue.Queue.put": (
        "queue.Queue.put() on a full queue", "another thread of this process calling get()",
        "A queue.Queue only connects threads of one process. Use multiprocessing.Queue between "
        "processes; within a process, make sure a thread consumes, or put(timeout=...)."),
    "SemLock.__enter__": (
        "a multiprocessing lock or semaphore", "the process holding it releasing it",
        "Release on every path (`with lock:`), and never let a process die holding a shared "
        "lock; acquire with a timeout where a holder may die."),
}


def primitive(thread: Thread) -> Optional[Tuple[str, str, str]]:
    entry = stacks.entry_call(thread)
    if entry is None:
        return None
    name = entry.function
    if entry.filename.endswith("mpdoctor/hooks/locks.py"):
        # the hooks' SemLock.__enter__/acquire (hooks/locks.py) stand for the originals
        return PRIMITIVES["SemLock.__enter__"]
    short = name.rsplit(".", 1)[-1]
    if entry.filename.endswith("/queue.py") and f"queue.{name}" in PRIMITIVES:
        return PRIMITIVES[f"queue.{name}"]  # the threading queue module
    if entry.filename.endswith(("threading.py", "multiprocessing/synchronize.py",
                                "multiprocessing/queues.py")):
        if name in PRIMITIVES:
            return PRIMITIVES[name]
        if short in ("wait", "acquire", "join") and "Event" in name:
            return PRIMITIVES["Event.wait"]
    return None


@rule(Phase.DEADLOCK, 60, (SLUG,))
def check(g: Graph) -> List[Finding]:
    findings = []
    for proc, thread in list(g.stuck_threads()):
        if thread.wait.kind is not WaitKind.FUTEX:
            continue
        prim = primitive(thread)
        if prim is None:
            continue
        findings.append(dataclasses.replace(_finding(g, proc, thread, prim),
                                            explains=((proc.pid, thread.tid),)))
    return findings


def _finding(g: Graph, proc: Process, thread: Thread, prim: Tuple[str, str, str]) -> Finding:
    s = g.snapshot
    what, signaller, fix = prim
    site = stacks.user_frame(thread)
    where = f" at {stacks.where(site, False)}" if site else ""
    evidence = [describe(s, proc, thread)]
    w = thread.wait
    if w.private:
        others = [t for t in proc.threads if t.tid != thread.tid]
        if others:
            evidence.append("it can only be signalled by another thread of the same process, and "
                            f"all {len(others)} of them are stuck")
        else:
            evidence.append("it can only be signalled by another thread of the same process, and "
                            "there is none")
        sharers: List[int] = [proc.pid]
    else:
        mapping = s.shared_by_key.get(w.shared_key)
        sharers = list(mapping.mappers) if mapping else []
        held = [f"{who(s, proc.pid)} itself (waiting)"] + [
            f"{who(s, p)} (stuck)" for p in sharers if p != proc.pid]
        evidence.append(f"it needs {signaller}; the processes that share it are only "
                        f"{listing(held)}")
    evidence.extend(dead_children(s, proc.pid))
    if what.startswith("queue.Queue") and (s.started_by(proc.pid) or dead_children(s, proc.pid)):
        evidence.append("child processes got their own copy of this queue.Queue (it is not "
                        "shared between processes): what they put never reaches this one")
    summary = (f"{who(s, proc.pid)} waits in {what}{where} for a signal that can never come: "
               f"nothing left alive can do it")
    data = {"site": stacks.site(site),
            "waiter": {"pid": proc.pid, "tid": thread.tid, "primitive": what,
                       "site": stacks.site(site)},
            "sharers": sharers,
            "dead_children": [c.pid for c in s.children_of(proc.pid) if c.state == "Z"]}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
                   fix=fix, docs=DOCS, pids=tuple(sorted(set(sharers) | {proc.pid})), data=data)
