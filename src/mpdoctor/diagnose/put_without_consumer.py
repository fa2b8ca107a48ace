"""``put-without-consumer``: a ``put()``/``send()`` blocks because the queue or pipe is full and
no living process will ever take anything out.

Two shapes: a bounded ``Queue(maxsize)`` whose ``put()`` waits on the queue's semaphore (shared
memory that only stuck processes map), and a ``SimpleQueue.put()`` / ``Connection.send()`` that
sleeps in ``write`` on a full pipe whose read end only stuck processes hold.
"""

from __future__ import annotations

import dataclasses
from typing import List

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import dead_children, describe, fill, listing, who
from mpdoctor.diagnose.waitfor import Graph, pipe_of
from mpdoctor.model import Finding, Process, Severity, Thread, WaitKind

SLUG = slug("put-without-consumer",
            "a `put()`/`send()` blocks on a full queue or pipe whose consumer is gone",
            "put_without_consumer/fix_consumer_survives.py")
DOCS = "docs/diagnoses/put-without-consumer.md"

FIX = ("Keep a consumer alive for as long as producers put: catch and report errors per item in "
       "the consumer instead of letting it die, and have producers use put(timeout=...) and "
       "check the consumer (c.is_alive(), c.exitcode) so they stop when it is gone.")


@rule(Phase.DEADLOCK, 80, (SLUG,))
def check(g: Graph) -> List[Finding]:
    findings = []
    for proc, thread in list(g.stuck_threads()):
        if not stacks.user_level(thread):
            continue
        w = thread.wait
        entry = stacks.entry_call(thread)
        # Queue.put waits on the queue's size semaphore (a bounded queue is full);
        # SimpleQueue.put waiting on its write lock is a writer behind another one
        bounded = (w.kind is WaitKind.FUTEX and not w.private and entry is not None
                   and entry.function in ("Queue.put", "JoinableQueue.put")
                   and entry.filename.endswith("multiprocessing/queues.py"))
        pipe = pipe_of(g.snapshot, w.target) if w.kind is WaitKind.WRITE else None
        if not bounded and pipe is None:
            continue
        findings.append(dataclasses.replace(_finding(g, proc, thread, bool(bounded)),
                                            explains=((proc.pid, thread.tid),)))
    return findings


def _finding(g: Graph, proc: Process, thread: Thread, bounded: bool) -> Finding:
    s = g.snapshot
    site = stacks.user_frame(thread)
    where = f" at {stacks.where(site, False)}" if site else ""
    evidence = [describe(s, proc, thread)]
    w = thread.wait
    if bounded:
        mapping = s.shared_by_key.get(w.shared_key)
        sharers = list(mapping.mappers) if mapping else [proc.pid]
        what = "Queue.put() on a full bounded queue"
        evidence.append("a bounded queue's put() waits for a get() to free a slot; the processes "
                        "that share the queue are only "
                        + listing([f"{who(s, proc.pid)} itself (waiting)"]
                                  + [f"{who(s, p)} (stuck)" for p in sharers if p != proc.pid]))
        consumers = sharers
    else:
        pipe = pipe_of(s, w.target)
        readers = sorted({h.pid for h in pipe.readers}) if pipe else []
        what = ("SimpleQueue.put()" if stacks.in_function(thread, "multiprocessing/queues.py",
                                                           ["put"]) else "send()")
        held = [f"{who(s, p)} itself (waiting)" if p == proc.pid else f"{who(s, p)} (stuck)"
                for p in readers]
        evidence.append(f"{w.target} {fill(pipe)}; its read end is held only by "
                        + listing(held))
        consumers = readers
    evidence.extend(dead_children(s, proc.pid))
    summary = (f"{who(s, proc.pid)} blocks in {what}{where}: the queue is full and no process "
               "that could take items out is alive")
    data = {"site": stacks.site(site),
            "producer": {"pid": proc.pid, "tid": thread.tid, "call": what,
                         "site": stacks.site(site)},
            "consumers": consumers, "bounded": bounded,
            "dead_children": [c.pid for c in s.children_of(proc.pid) if c.state == "Z"]}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
                   fix=FIX, docs=DOCS, pids=tuple(sorted({proc.pid, *consumers})), data=data)
