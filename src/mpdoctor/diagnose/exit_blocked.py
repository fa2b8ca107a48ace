"""``exit-blocked-by-child``: the main program has finished, but the interpreter cannot exit.

At exit, multiprocessing joins every non-daemon child (``util._exit_function``) and every queue's
feeder thread (``Queue._finalize_join``: the data put on a queue must reach its pipe first).  A
child that never ends, or a feeder writing into a pipe nobody reads, keeps the process alive
forever, after the last line of the script has run.

With a stuck child or feeder this is a proven deadlock.  When the child is still alive and
polling (``get(timeout=...)`` in a loop), it cannot be proven, but the finding accompanies the
``timeout`` verdict with the same evidence.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Tuple

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import dead_children, describe, fill, listing, who
from mpdoctor.diagnose.join_before_drain import awaited_children
from mpdoctor.diagnose.waitfor import Graph, pipe_of
from mpdoctor.model import Finding, Process, Role, Severity, Thread, WaitKind

SLUG = slug("exit-blocked-by-child",
            "the script finished, but exit waits for a non-daemon child or a queue's feeder "
            "thread", "exit_blocked_by_child/fix_stop_and_drain.py")
DOCS = "docs/diagnoses/exit-blocked-by-child.md"
THREAD = slug("exit-blocked-by-thread",
              "the script finished, but exit waits for a non-daemon thread that never ends",
              "exit_blocked_by_thread/fix_sentinel_always.py")
FIX_THREAD = ("The interpreter waits for every non-daemon thread before it exits: make sure the "
              "thread is told to stop whatever happens (send its stop sentinel from a finally "
              "block, or set a stop Event and have it wait with a timeout), join it explicitly, "
              "or create it with daemon=True if it may be cut off at exit.")

FIX_FEEDER = ("Everything put on a queue must be read before the process can exit: make sure a "
              "consumer reads it (and survives), or, if losing the data is acceptable, call "
              "q.cancel_join_thread() on that queue.")
FIX_CHILD = ("Non-daemon children are joined when the main program ends: tell them to stop "
             "(send their stop sentinel, set their stop event) before the end, join them "
             "explicitly, or create them with daemon=True if they may be killed at exit.")


def at_exit(thread: Thread) -> bool:
    """The thread is in interpreter-exit code, with no user frame left on its stack."""
    if not thread.frames or stacks.user_frame(thread) is not None:
        return False
    return bool(stacks.in_function(thread, "multiprocessing/util.py", ["_exit_function"])
                or stacks.in_function(thread, "threading.py", ["_shutdown"]))


@rule(Phase.DEADLOCK, 40, (SLUG, THREAD))
def check(g: Graph) -> List[Finding]:
    return _check(g, proven=True)


@rule(Phase.UNPROVEN, 40, (SLUG, THREAD))
def check_unproven(g: Graph) -> List[Finding]:
    return _check(g, proven=False)


def _check(g: Graph, proven: bool) -> List[Finding]:
    """The main process first; then, for a proven deadlock, any other process of the tree
    whose work is done and whose exit is blocked the same way (a child's target returned, and
    its exit waits for its own queue's feeder or its own non-daemon children)."""
    s = g.snapshot
    candidates = [s.root] if s.root is not None else []
    if proven:
        candidates += [p for p in s.processes if p is not s.root and p.role is Role.CHILD]
    findings = []
    for proc in candidates:
        f = _one(g, proc, proven)
        if f is not None:
            findings.append(f)
            g.claimed.update(f.explains)
    return findings


def _one(g: Graph, root: Process, proven: bool) -> Optional[Finding]:
    main = root.main_thread
    if main is None or not at_exit(main) or (root.pid, main.tid) in g.claimed:
        return None
    if proven != g.is_stuck(root.pid, main.tid):
        return None
    if not main.wait.indefinite:
        return None
    if stacks.in_function(main, "multiprocessing/queues.py", ["_finalize_join"]):
        f = _feeder(g, root, main)
    elif (stacks.in_function(main, "threading.py", ["_shutdown"])
          and not stacks.in_function(main, "multiprocessing/util.py", ["_exit_function"])):
        f = _thread(g, root, main, proven)
    else:
        f = _child(g, root, main, proven)
    if f is None:
        return None
    explains = [(root.pid, t.tid) for t in root.threads]
    if not proven:
        # what the exit waits for (a child, a thread), still moving: this finding says what it
        # does, so a rule about moving threads (a polling loop) leaves it alone
        for pid in f.pids:
            proc = g.snapshot.by_pid.get(pid)
            explains += [(pid, t.tid) for t in proc.threads] if proc is not None else []
    if root is not g.snapshot.root:
        # whoever only waits for this process to exit is explained with it
        explains += [(p.pid, t.tid) for p, t in waiting_for(g, root)]
    return dataclasses.replace(f, explains=tuple(explains))


def _work(s, proc: Process) -> str:
    return "main program" if proc is s.root else "target function"


def _joiners(g: Graph, proc: Process) -> List[str]:
    """Who waits for ``proc`` to exit (its parent in join(), say)."""
    return [describe(g.snapshot, p, t) for p, t in waiting_for(g, proc)]


def waiting_for(g: Graph, proc: Process) -> List[Tuple[Process, Thread]]:
    """The stuck threads that wait for ``proc`` to exit (wait4, or a forkserver's sentinel)."""
    return [(p, t) for p in g.snapshot.processes for t in p.threads
            if p is not proc and g.is_stuck(p.pid, t.tid)
            and proc.pid in awaited_children(g, p, t)]


def _feeder(g: Graph, root: Process, main: Thread) -> Optional[Finding]:
    s = g.snapshot
    feeders = [t for t in root.threads if t.tid != main.tid and t.wait.kind is WaitKind.WRITE
               and stacks.in_function(t, "multiprocessing/queues.py", ["_feed"])]
    if not feeders:
        return None
    feeder = feeders[0]
    pipe = pipe_of(s, feeder.wait.target)
    readers = sorted({h.pid for h in pipe.readers}) if pipe else []
    evidence = [describe(s, root, main), describe(s, root, feeder),
                f"{feeder.wait.target} {fill(pipe)}; its read end is held only by "
                + listing([f"{who(s, p)}{' itself' if p == root.pid else ' (stuck)'}"
                           for p in readers])]
    evidence.extend(dead_children(s, root.pid))
    evidence.extend(_joiners(g, root))
    summary = (f"the {_work(s, root)} of {who(s, root.pid)} has finished, but the interpreter "
               "cannot exit: it waits for a queue's feeder thread to write data into a pipe "
               "that no living process reads")
    data = {"site": stacks.site(stacks.user_frame(main)),
            "pid": root.pid, "waits_for": "feeder", "feeder_tid": feeder.tid,
            "pipe": pipe.inode if pipe else None, "readers": readers,
            "dead_children": [c.pid for c in s.children_of(root.pid) if c.state == "Z"]}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
                   fix=FIX_FEEDER, docs=DOCS, pids=(root.pid,), data=data)


def _thread(g: Graph, root: Process, main: Thread, proven: bool) -> Optional[Finding]:
    """The interpreter's exit waits for a thread of the program's own (threading._shutdown
    joins every non-daemon thread) that does not end."""
    s = g.snapshot
    waiting = [t for t in root.threads if t.tid != main.tid and stacks.user_frame(t) is not None
               and (not proven or g.is_stuck(root.pid, t.tid))]
    if not waiting:
        return None
    thread = waiting[0]
    site = stacks.user_frame(thread)
    name = thread.name or f"thread {thread.tid}"
    evidence = [describe(s, root, main), describe(s, root, thread)]
    state = ("it is stuck" if g.is_stuck(root.pid, thread.tid) else
             "it is still running (polling, say), so this cannot be proven a deadlock, but it "
             "never ends by itself")
    evidence.append(f"{name} is not a daemon thread, so the exit waits for it; {state}")
    evidence.extend(_joiners(g, root))
    summary = (f"the {_work(s, root)} of {who(s, root.pid)} has finished, but the interpreter "
               f"cannot exit: it waits for its non-daemon thread {name!r}"
               f"{f' at {stacks.where(site, False)}' if site else ''}, which never ends")
    data = {"site": stacks.site(site), "pid": root.pid, "waits_for": "thread",
            "thread": {"tid": thread.tid, "name": thread.name, "site": stacks.site(site)},
            "proven": proven}
    return Finding(slug=THREAD, severity=Severity.ERROR, summary=summary,
                   evidence=tuple(evidence), fix=FIX_THREAD,
                   docs="docs/diagnoses/exit-blocked-by-thread.md", pids=(root.pid,), data=data)


def _child(g: Graph, root: Process, main: Thread, proven: bool) -> Optional[Finding]:
    s = g.snapshot
    if not stacks.in_function(main, "multiprocessing/process.py", ["join"]):
        return None
    w = main.wait
    # started_by: under forkserver (the default from Python 3.14) the children are the
    # forkserver's, forked on the main process's behalf
    kids = [c for c in s.started_by(root.pid) if c.state != "Z"]
    if w.kind is WaitKind.CHILD and w.pid and w.pid > 0:
        kids = [c for c in kids if c.pid == w.pid] or kids
    kids = [c for c in kids if c.role.value == "child"]
    if not kids:
        return None
    child = kids[0]
    evidence = [describe(s, root, main)]
    for t in child.threads:
        evidence.append(describe(s, child, t))
    state = ("it is stuck" if g.process_stuck(child.pid) else
             "it is still running (for example polling with a timeout for a message that "
             "nobody will send), so this cannot be proven a deadlock, but it never ends by itself")
    evidence.append(f"{who(s, child.pid)} is not a daemon process, so the exit waits for it; "
                    f"{state}")
    summary = (f"the {_work(s, root)} of {who(s, root.pid)} has finished, but the interpreter "
               f"cannot exit: it joins non-daemon {who(s, child.pid)}, which never ends")
    data = {"site": stacks.site(stacks.user_frame(main)), "pid": root.pid,
            "waits_for": "child", "child": child.pid, "proven": proven}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
                   fix=FIX_CHILD, docs=DOCS, pids=(root.pid, child.pid), data=data)
