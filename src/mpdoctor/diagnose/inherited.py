"""``inherited-pipe-end``: a reader waits for end of file on a pipe (or a socket) whose other
end a process keeps open only because it inherited a copy of it.

End of file comes when every copy of the write end is closed, in every process.  A process
started by ``fork`` (``os.fork()``, the fork start method) gets a copy of every descriptor its
parent had open; a program started by ``subprocess`` gets its parent's standard input, output
and error.  A helper that got a copy that way and never closes it keeps the reader waiting for
as long as it lives -- and when the helper itself waits for something the reader's side was to
do next, nothing can ever move again.

The kernel shows all of it: the reader sleeps in ``read`` on an empty pipe, the write end is
held only by stuck processes, and how each got its copy: the fd is one of its standard
streams, or it was forked (the hooks say so in the child's hello; without them, the same
command line as its parent's).  A process that was handed the end on purpose (a child started
with ``stdout=PIPE`` by the reader itself, a spawned or forkserver child given it as an
argument) or that was seen putting to it is a producer, not a bystander: that is
``get-without-producer``'s case, and so is a reader that keeps a copy of the write end itself.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Set, Tuple

from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import describe, exit_text, listing, who
from mpdoctor.diagnose.get_without_producer import Channel, read_channels
from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose.waitfor import Graph, TNode, successors, tnode
from mpdoctor.hooks import protocol
from mpdoctor.model import Finding, Process, Role, Severity, Snapshot, Thread

SLUG = slug("inherited-pipe-end",
            "a reader waits for end of file that a process holding an inherited copy of the "
            "pipe's other end keeps from coming",
            "inherited_pipe_end/fix_close_inherited.py")
DOCS = "docs/diagnoses/inherited-pipe-end.md"

_STREAMS = {0: "standard input", 1: "standard output", 2: "standard error"}
#: the last word of a hello's list of inherited pipes and sockets when not all fds were read
TRUNCATED = "..."


class _Copy(NamedTuple):
    """How one stuck process came to hold a copy of the end the reader waits on."""

    pid: int
    fd: int
    how: str  # "fork" or "stdio"
    text: str  # "inherited it when child 12 forked it (that process has exited)"
    parent: Optional[int]  # the process it got it from, when it is still in the tree


def _hello(s: Snapshot, pid: int) -> Optional[dict]:
    """The hooks' hello a process sent right after it was forked, if it sent one."""
    for e in s.events:
        if e.kind == protocol.HELLO and e.pid == pid and e.data.get("fork"):
            return e.data
    return None


def _inherited_at_fork(s: Snapshot, proc: Process, parent: Optional[Process], end: str,
                       inode: int) -> bool:
    """Did ``proc`` get ``end`` ("pipe:[N]", "socket:[N]") from its parent at fork?  The
    hooks' hello lists what a forked child had open right after the fork.  Without it, only
    a living parent with the same command line (fork without exec) that holds ``end`` too
    shows it: a copy made after the fork could not be in both."""
    hello = _hello(s, proc.pid)
    if hello is not None and hello.get("inherited") is not None:
        listed = hello["inherited"].split()
        if end in listed:
            return True
        if TRUNCATED not in listed:
            return False  # the whole table was read: not there at the fork
    return (parent is not None and parent.state != "Z" and bool(parent.cmdline)
            and parent.cmdline == proc.cmdline and _holds(s, parent.pid, inode))


def _parent_text(s: Snapshot, proc: Process, parent: Optional[Process]) -> str:
    if parent is None:
        return "its parent (which has exited)"
    if parent.state == "Z":
        return f"{who(s, parent.pid)} (which has {exit_text(parent.exit_status)})"
    return who(s, parent.pid)


def _holds(s: Snapshot, pid: int, inode: int) -> bool:
    pipe = s.pipe_by_inode.get(inode)
    if pipe is not None:
        return any(h.pid == pid for h in pipe.writers)
    sock = s.socket_by_inode.get(inode)
    return sock is not None and any(h.pid == pid for h in sock.peer_holders)


def _copy(s: Snapshot, reader: Process, channel: Channel, pid: int, fd: int
          ) -> Optional[_Copy]:
    """How ``pid`` got its copy of ``channel``'s other end at ``fd``, when it was by
    inheritance; None when it was handed it on purpose or the snapshot cannot tell."""
    proc = s.by_pid.get(pid)
    if proc is None:
        return None
    parent = s.by_pid.get(proc.ppid)
    if parent is not None and parent.role is Role.FORKSERVER:
        return None  # a forkserver worker gets only what it is sent explicitly
    parent_pid = parent.pid if parent is not None else None
    if fd in _STREAMS:
        if parent_pid == reader.pid:
            return None  # the reader started it with its output on this pipe: a producer
        return _Copy(pid, fd, "stdio",
                     f"has it as its {_STREAMS[fd]} (fd {fd}), inherited from "
                     f"{_parent_text(s, proc, parent)}", parent_pid)
    held = _held_label(s, channel)
    if held is None or not _inherited_at_fork(s, proc, parent, held, channel.inode):
        return None
    hello = _hello(s, pid)
    if hello is not None and hello.get("parent") not in (None, proc.ppid):
        forker = s.by_pid.get(hello["parent"])
        giver = (_parent_text(s, proc, forker) if forker is not None
                 else f"pid {hello['parent']} (which has exited)")
        parent, parent_pid = forker, hello["parent"]
    else:
        giver = _parent_text(s, proc, parent)
    if parent is not None and parent.state != "Z":
        still = ("; that process still holds it too" if _holds(s, parent.pid, channel.inode)
                 else "; that process has closed its own copy since")
    else:
        still = ""
    return _Copy(pid, fd, "fork", f"inherited it at fd {fd} when {giver} forked it{still}",
                 parent_pid)


def _held_label(s: Snapshot, channel: Channel) -> Optional[str]:
    """What the holders hold: the pipe itself, or the peer end of the reader's socket."""
    if channel.label.startswith("pipe:"):
        return channel.label
    sock = s.socket_by_inode.get(channel.inode)
    return None if sock is None or sock.peer is None else f"socket:[{sock.peer}]"


def _put_to(s: Snapshot, inode: int) -> Set[int]:
    """Processes the hooks saw putting to the queue whose pipe is ``inode``."""
    return {e.pid for e in s.events if e.kind == protocol.PUT_SITE and e.data.get("pipe") == inode}


def _reaches(g: Graph, start: TNode, goal_pid: int) -> bool:
    """Does the wait of ``start`` depend, through the wait-for graph, on ``goal_pid``?"""
    seen = {start}
    todo = [start]
    while todo:
        node = todo.pop()
        for nxt in successors(g, node):
            if nxt[1] == goal_pid:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


@rule(Phase.DEADLOCK, 85, (SLUG,))
def check(g: Graph) -> List[Finding]:
    s = g.snapshot
    findings = []
    for proc, thread in list(g.stuck_threads()):
        channels = read_channels(g, thread)
        if len(channels) != 1:
            continue
        [channel] = channels
        copies = _copies(g, proc, channel)
        if copies is None:
            continue
        # the holders' own waits that come back to the reader are this deadlock too
        explained = [(proc.pid, thread.tid)]
        for c in copies:
            holder = s.by_pid[c.pid]
            explained.extend((c.pid, t.tid) for t in holder.threads
                             if g.is_stuck(c.pid, t.tid) and (c.pid, t.tid) not in g.claimed
                             and _reaches(g, tnode(c.pid, t.tid), proc.pid))
        findings.append(_finding(g, proc, thread, channel, copies, tuple(explained)))
    return findings


def _copies(g: Graph, reader: Process, channel: Channel) -> Optional[List[_Copy]]:
    """The inherited copies that keep end of file from ``reader``, when every holder of the
    other end holds one (None otherwise: someone else's case)."""
    s = g.snapshot
    by_pid: Dict[int, List[int]] = {}
    for h in channel.writers:
        by_pid.setdefault(h.pid, []).append(h.fd)
    if not by_pid or reader.pid in by_pid:
        return None  # nobody (the producer is gone), or the reader keeps a copy itself
    producers = _put_to(s, channel.inode)
    out = []
    for pid, fds in sorted(by_pid.items()):
        if pid in producers or not g.process_stuck(pid):
            return None
        proc = s.by_pid.get(pid)
        if proc is None or proc.role is not Role.CHILD:
            return None
        if any((pid, t.tid) in g.claimed for t in proc.threads):
            return None  # why it is stuck is another finding; the reader waits because of it
        copy = None
        for fd in sorted(fds):
            copy = _copy(s, reader, channel, pid, fd)
            if copy is not None:
                break
        if copy is None:
            return None
        out.append(copy)
    return out


def _stuck_line(g: Graph, proc: Process) -> str:
    s = g.snapshot
    threads = [t for t in proc.threads if g.is_stuck(proc.pid, t.tid)]
    threads.sort(key=lambda t: (stacks.user_frame(t) is None, t.tid != proc.pid))
    return describe(s, proc, threads[0]) if threads else who(s, proc.pid)


def _finding(g: Graph, proc: Process, thread: Thread, channel: Channel,
             copies: List[_Copy], explained: Tuple[Tuple[int, int], ...]) -> Finding:
    s = g.snapshot
    site = stacks.user_frame(thread)
    where = f" at {stacks.where(site, False)}" if site else ""
    holders = [who(s, c.pid) for c in copies]
    noun = "copy" if len(copies) == 1 else "copies"
    lives, holds = (("lives", "it holds an inherited copy") if len(copies) == 1
                    else ("live", "they hold inherited copies"))
    summary = (f"{who(s, proc.pid)} waits{where} for end of file on {channel.label}, which "
               f"cannot come while {listing(holders)} {lives}: {holds} of the {channel.end}")
    evidence = [describe(s, proc, thread),
                f"{channel.label} is empty; its {channel.end} is held only by "
                f"{listing(holders)} (stuck), and end of file comes only when every copy of "
                "it is closed"]
    for c in copies:
        evidence.append(f"{who(s, c.pid)} {c.text}; it never closed it, and it is stuck: "
                        f"{_stuck_line(g, s.by_pid[c.pid])}")
    hows = {c.how for c in copies}
    fixes = []
    if "fork" in hows:
        fixes.append("A forked helper keeps a copy of every descriptor its parent had open: "
                     f"close the {noun} it does not use right after the fork (in the helper), "
                     "or create the helper before the pipe or socket, or start it with the "
                     "spawn or forkserver start method (or subprocess), which pass only what "
                     "the child is given.")
    if "stdio" in hows:
        fixes.append("A program started in the background inherits the standard streams of "
                     "the process that starts it: start it with stdout/stderr redirected "
                     "(subprocess.DEVNULL or a log file) and stdin=DEVNULL, so the pipe the "
                     "reader waits on closes when the launcher ends.")
    fixes.append("Or have the reader stop on a message (a sentinel) instead of end of file.")
    data = {"site": stacks.site(site),
            "reader": {"pid": proc.pid, "tid": thread.tid, "site": stacks.site(site)},
            "channel": channel.label, "inode": channel.inode,
            "holders": [{"pid": c.pid, "fd": c.fd, "how": c.how, "from": c.parent}
                        for c in copies]}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary,
                   evidence=tuple(evidence), fix=" ".join(fixes), docs=DOCS,
                   pids=tuple(sorted({proc.pid, *(c.pid for c in copies)})), data=data,
                   explains=explained)
