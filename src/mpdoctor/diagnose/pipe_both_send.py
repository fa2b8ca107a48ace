"""``pipe-both-send``: both ends of a connection send more than it can hold, and neither
receives.

A ``multiprocessing.Pipe()`` is a socket pair (a pair of pipes with ``duplex=False``); ``send()``
blocks once the kernel's buffer is full, until the other side reads.  If both sides send a large
message before receiving, each waits in ``write`` for the other to read: the kernel shows two
writers, each on one end, and the only holders of each peer end are the other (stuck) writer's
process and themselves.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Set, Tuple

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import describe, who
from mpdoctor.diagnose.waitfor import Graph, pipe_of, socket_of
from mpdoctor.model import Finding, Process, Severity, Thread, WaitKind

SLUG = slug("pipe-both-send", "both ends of a `Pipe()` send before receiving",
            "pipe_both_send/fix_alternate.py")
DOCS = "docs/diagnoses/pipe-both-send.md"
FIX = ("Do not let both sides send before receiving: agree on an order (one side receives "
       "first), or send from a separate thread while the main thread receives, or split large "
       "messages and alternate send and recv. A Queue avoids it too: its feeder thread sends in "
       "the background.")


def _readers(g: Graph, thread: Thread) -> Optional[Set[int]]:
    """Processes that could read what this stuck writer writes."""
    s = g.snapshot
    target = thread.wait.target
    sock = socket_of(s, target)
    if sock is not None:
        return {h.pid for h in sock.peer_holders}
    pipe = pipe_of(s, target)
    if pipe is not None:
        return {h.pid for h in pipe.readers}
    return None


@rule(Phase.DEADLOCK, 70, (SLUG,))
def check(g: Graph) -> List[Finding]:
    writers: List[Tuple[Process, Thread, Set[int]]] = []
    for proc, thread in g.stuck_threads():
        if thread.wait.kind is WaitKind.WRITE and stacks.user_level(thread):
            readers = _readers(g, thread)
            if readers:
                writers.append((proc, thread, readers))
    findings = []
    done: Set[Tuple[int, int]] = set()
    for i, (p, t, p_readers) in enumerate(writers):
        for q, u, q_readers in writers[i + 1:]:
            if (p.pid, t.tid) in done or (q.pid, u.tid) in done or p.pid == q.pid:
                continue
            if q.pid in p_readers and p.pid in q_readers:
                findings.append(dataclasses.replace(
                    _finding(g, p, t, q, u), explains=((p.pid, t.tid), (q.pid, u.tid))))
                done.update({(p.pid, t.tid), (q.pid, u.tid)})
    return findings


def _finding(g: Graph, p: Process, t: Thread, q: Process, u: Thread) -> Finding:
    s = g.snapshot
    sites = [stacks.user_frame(t), stacks.user_frame(u)]
    evidence = [describe(s, p, t), describe(s, q, u),
                f"what {who(s, p.pid)} writes can only be read by {who(s, q.pid)} (or itself), "
                f"and the other way round; both are writing, so neither reads"]
    summary = (f"{who(s, p.pid)} and {who(s, q.pid)} both send on the two ends of one "
               f"connection ({t.wait.target} and {u.wait.target}) before receiving, and each "
               "waits for the other to read")
    data = {"site": stacks.site(sites[0]), "writers": [
        {"pid": proc.pid, "tid": th.tid, "target": th.wait.target, "bytes": th.wait.count,
         "site": stacks.site(f)}
        for proc, th, f in ((p, t, sites[0]), (q, u, sites[1]))]}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
                   fix=FIX, docs=DOCS, pids=tuple(sorted({p.pid, q.pid})), data=data)
