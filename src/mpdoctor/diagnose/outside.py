"""``waits-on-outside``: at a timeout, the tree waits for something only a program outside it
can give: a connection to a listening socket, a writer for a FIFO, input on a terminal or a
pipe from outside; and nothing inside the tree can act instead.

That is not a deadlock (the outside may still answer), so it is a ``likely`` finding beside the
``timeout`` verdict: it names the wait, the line, and who waits behind it.  The check is the
wait-for graph's, with the outside waits taken as waiting for any other thread of the tree:
when they are stuck that way, no thread of the tree can end them.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from mpdoctor.diagnose import describe as describe_mod
from mpdoctor.diagnose import stacks, waitfor
from mpdoctor.diagnose.describe import count, describe, listing, thread_label, who
from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose.waitfor import Graph
from mpdoctor.model import Finding, Process, Severity, Snapshot, Thread, WaitKind

SLUG = slug("waits-on-outside",
            "the tree waits for a program outside it (a connection, a FIFO's writer, input) "
            "that never comes (likely, at a timeout)",
            "waits_on_outside/fix_accept_with_timeout.py")

FIFO_WCHANS = describe_mod.FIFO_WCHANS
FIX = ("Wait for the outside with a timeout, and say what is awaited: "
       "`sock.settimeout(...)` before accept(), `os.open(path, os.O_RDONLY | os.O_NONBLOCK)` "
       "for a FIFO (or open it for reading and writing), `select` with a timeout on a pipe or "
       "a terminal; start the program that is meant to answer (or check that it runs) before "
       "waiting for it; and give the processes waiting behind the wait a way to learn that it "
       "failed (an Event with a timeout, a sentinel).")


def outside_wait(s: Snapshot, proc: Process, thread: Thread, why: str) -> Optional[str]:
    """What a thread that can act only because of the outside waits for, or None."""
    w = thread.wait
    if thread.wchan in FIFO_WCHANS:
        return "open() of a FIFO, for a process to open its other end"
    if w.kind is WaitKind.ACCEPT:
        sock = waitfor.socket_of(s, w.target) if w.target else None
        if sock is not None and sock.private:
            return None
        return (f"accept() on a listening socket ({w.target or 'fd ' + str(w.fd)}), for a "
                "connection")
    if "listening socket: a connection may come from outside" in why:
        return f"a connection to a listening socket ({why.split(' is a ')[0]})"
    if "connected to the outside of the tree" in why or "may be fed from outside" in why:
        if w.kind in (WaitKind.READ, WaitKind.POLL) and w.indefinite:
            return f"input from outside the tree ({why})"
    return None


@rule(Phase.UNPROVEN, 60, (SLUG,))
def check(g: Graph) -> List[Finding]:
    s = g.snapshot
    waits: Dict[Tuple[int, int], str] = {}
    for (_, pid, tid), why in g.live_reason.items():
        if (pid, tid) in g.claimed:
            continue
        proc = s.by_pid.get(pid)
        thread = next((t for t in proc.threads if t.tid == tid), None) if proc else None
        if proc is None or thread is None or not stacks.user_level(thread):
            continue
        what = outside_wait(s, proc, thread, why)
        if what is not None:
            waits[(pid, tid)] = what
    if not waits:
        return []
    assumed = waitfor.build(s, pollers=frozenset(waits))
    out = []
    for (pid, tid), what in sorted(waits.items()):
        if not assumed.is_stuck(pid, tid):
            continue  # something in the tree can still act: it may give what is awaited
        out.append(_finding(s, assumed, pid, tid, what, waits))
    return out


def _finding(s: Snapshot, g: Graph, pid: int, tid: int, what: str,
             waits: Dict[Tuple[int, int], str]) -> Finding:
    proc = s.by_pid[pid]
    thread = next(t for t in proc.threads if t.tid == tid)
    site = stacks.user_frame(thread)
    at = f" at {stacks.where(site, False)}" if site else ""
    summary = (f"likely: {who(s, pid)} ({thread_label(proc, thread)}) waits{at} for "
               f"{what}; nothing in the tree will give it, so unless a program outside does, "
               "it waits for ever")
    evidence = [describe(s, proc, thread)]
    behind = [describe(s, p, t) for p in s.processes for t in p.threads
              if (p.pid, t.tid) not in waits and g.is_stuck(p.pid, t.tid)
              and stacks.user_frame(t) is not None]
    if behind:
        evidence.append(f"{count(len(behind), 'thread')} of the tree "
                        f"{'waits' if len(behind) == 1 else 'wait'} behind it: "
                        + listing(behind, 4))
    evidence.append("no thread of the tree can act to end that wait: it waits for the outside "
                    "(not a proof of a deadlock: an outside program may still answer)")
    data = {"site": stacks.site(site), "proven": False,
            "waiter": {"pid": pid, "tid": tid, "waits_for": what, "site": stacks.site(site)}}
    return Finding(slug=SLUG, severity=Severity.WARNING, summary=summary,
                   evidence=tuple(evidence), fix=FIX, pids=(pid,), data=data,
                   explains=((pid, tid),))
