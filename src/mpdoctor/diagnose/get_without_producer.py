"""``get-without-producer``: a ``get()``/``recv()`` without timeout waits on a pipe (or a
connected socket: a socketpair, a loopback TCP connection, a connected UDP socket) that nobody
alive will ever write to.

Every holder of the pipe's write end is the waiting process itself (a parent that kept its own
copy of the write end) or another stuck process; the producer is gone (it raised before
putting, exited early, or its item was dropped).  The kernel shows it: the reader sleeps in
``read`` on an empty pipe, and the write end is held only by stuck processes, so end of file
will not come either.
"""

from __future__ import annotations

import dataclasses
from typing import List, NamedTuple, Optional, Tuple

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import dead_children, describe, housekeeper, who
from mpdoctor.diagnose.waitfor import Graph, pipe_of, socket_of
from mpdoctor.model import Finding, Holder, Process, Severity, Thread, WaitKind

SLUG = slug("get-without-producer",
            "a `get()`/`recv()` waits on a pipe no living process can write to",
            "get_without_producer/fix_always_put.py")
DOCS = "docs/diagnoses/get-without-producer.md"


class Channel(NamedTuple):
    """What a reader waits on: a pipe, or a connected socket (whose writers are the holders of
    its peer end: a socketpair, a loopback TCP connection, a connected UDP socket)."""

    label: str  # "pipe:[N]" or "socket:[N]"
    inode: int
    writers: Tuple[Holder, ...]
    end: str  # what the writers hold: "write end", "other end"


def _channel(g: Graph, target: str) -> Optional[Channel]:
    sock = socket_of(g.snapshot, target)
    if sock is not None:
        if sock.peer is None or sock.listening or sock.outside:
            return None
        return Channel(f"socket:[{sock.inode}]", sock.inode, sock.peer_holders, "other end")
    pipe = pipe_of(g.snapshot, target)
    if pipe is None:
        return None
    return Channel(f"pipe:[{pipe.inode}]", pipe.inode, pipe.writers, "write end")


def read_channels(g: Graph, thread: Thread) -> List[Channel]:
    w = thread.wait
    if w.kind is WaitKind.READ:
        channel = _channel(g, w.target)
        return [channel] if channel is not None else []
    if w.kind is WaitKind.POLL and w.fds and all(f.want_read and not f.want_write for f in w.fds):
        channels = [_channel(g, f.target) for f in w.fds]
        return [c for c in channels if c is not None] if all(channels) else []
    return []


@rule(Phase.DEADLOCK, 90, (SLUG,))
def check(g: Graph) -> List[Finding]:
    findings = []
    for proc, thread in list(g.stuck_threads()):
        if housekeeper(thread):
            continue  # a pool's or executor's own thread waits for its workers: their finding
        pipes = read_channels(g, thread)
        if not pipes:
            continue
        findings.append(dataclasses.replace(_finding(g, proc, thread, pipes),
                                            explains=((proc.pid, thread.tid),)))
    return findings


def _finding(g: Graph, proc: Process, thread: Thread, pipes: List[Channel]) -> Finding:
    s = g.snapshot
    site = stacks.user_frame(thread)
    is_queue = bool(stacks.in_function(thread, "multiprocessing/queues.py", ["get"]))
    call = "Queue.get()" if is_queue else "recv()" if stacks.in_function(
        thread, "multiprocessing/connection.py", ["recv", "recv_bytes"]) else "read"
    where = f" at {stacks.where(site, False)}" if site else ""
    evidence = [describe(s, proc, thread)]
    self_writer = False
    writers_all = set()
    for pipe in pipes:
        writers = sorted({h.pid for h in pipe.writers})
        writers_all.update(writers)
        self_writer = self_writer or proc.pid in writers
        others = [w for w in writers if w != proc.pid]
        held = []
        if proc.pid in writers:
            held.append(f"{who(s, proc.pid)} itself (the one waiting)")
        held.extend(f"{who(s, w)} (stuck)" for w in others)
        evidence.append(f"{pipe.label} is empty and its {pipe.end} is held only by "
                        f"{', '.join(held) or 'nobody'}: no data and no end of file can come")
    gone = dead_children(s, proc.pid)
    evidence.extend(gone)
    summary = (f"{who(s, proc.pid)} waits in {call}{where} for data that can never arrive: "
               "no process that could still write to it is alive")
    if is_queue:
        fix = ("Never get() without a timeout from a producer that may die: have the producer "
               "put a result or its exception in a try/finally, or get(timeout=...) in a loop "
               "that checks p.is_alive()/p.exitcode, or wait on the queue's reader and the "
               "producers' sentinels together (multiprocessing.connection.wait).")
    elif self_writer:
        fix = ("Close the reading process's own copy of the write end right after starting the "
               "child (e.g. writer.close() after p.start()): then recv() raises EOFError once "
               "the child is done, instead of waiting forever.")
    else:
        fix = ("Make sure something always writes (or closes its end) before the reader blocks: "
               "send a result or the exception from the producer, or use a timeout.")
    data = {"site": stacks.site(site), "reader": {"pid": proc.pid, "tid": thread.tid,
                       "site": stacks.site(site), "call": call},
            "pipes": [p.inode for p in pipes if p.label.startswith("pipe:")],
            "sockets": [p.inode for p in pipes if p.label.startswith("socket:")],
            "writers": sorted(writers_all),
            "reader_holds_write_end": self_writer,
            "dead_children": [c.pid for c in s.children_of(proc.pid) if c.state == "Z"]}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary,
                   evidence=tuple(evidence), fix=fix, docs=DOCS,
                   pids=tuple(sorted({proc.pid, *writers_all})), data=data)
