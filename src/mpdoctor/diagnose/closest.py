"""For an ``unexplained-deadlock``: which known pattern came closest, and what it lacked.

Each pattern is a short list of the facts its rule needs, each a test on the proven graph.
The pattern with the most of them present (at least one) is the closest; the first fact it
lacks is why it did not match.  Only facts of the snapshot are used, so the text says what was
there and what was not, never a guess at a cause.
"""

from __future__ import annotations

from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.exit_blocked import at_exit
from mpdoctor.diagnose.never_signalled import primitive
from mpdoctor.diagnose.reentered import held_at
from mpdoctor.diagnose.waitfor import Graph, pipe_of, socket_of
from mpdoctor.model import Process, Role, Thread, WaitKind


class Fact(NamedTuple):
    text: str  # what the pattern needs, as a clause: "a process waits for a child to exit"
    holds: Callable[[Graph], bool]


class Near(NamedTuple):
    slug: str
    present: Tuple[str, ...]
    missing: str


def _stuck(g: Graph) -> List[Tuple[Process, Thread]]:
    stuck = g.stuck
    return [(p, t) for p in g.snapshot.processes for t in p.threads
            if ("t", p.pid, t.tid) in stuck]


def _kind(g: Graph, kind: WaitKind) -> List[Tuple[Process, Thread]]:
    return [(p, t) for p, t in _stuck(g) if t.wait.kind is kind]


def _joins(g: Graph) -> bool:
    return bool(_kind(g, WaitKind.CHILD)) or any(
        stacks.in_function(t, "multiprocessing/process.py", ["join"]) for _, t in _stuck(g))


def _writes(g: Graph) -> List[Tuple[Process, Thread]]:
    return [(p, t) for p, t in _kind(g, WaitKind.WRITE) if pipe_of(g.snapshot, t.wait.target)
            or socket_of(g.snapshot, t.wait.target)]


def _awaited_writer(g: Graph) -> bool:
    waited = {t.wait.pid for _, t in _kind(g, WaitKind.CHILD) if t.wait.pid}
    return any(p.pid in waited for p, _ in _writes(g))


def _both_send(g: Graph) -> bool:
    """Two stuck writers, each the only possible reader of the other's pipe."""
    writers = _writes(g)
    readers = {}
    for p, t in writers:
        pipe = pipe_of(g.snapshot, t.wait.target)
        if pipe is not None:
            readers[p.pid] = {h.pid for h in pipe.readers}
    return any(a != b and b in readers.get(a, ()) and a in readers.get(b, ())
               for a in readers for b in readers)


def _reads_empty(g: Graph) -> bool:
    for _, t in _kind(g, WaitKind.READ):
        pipe = pipe_of(g.snapshot, t.wait.target)
        if pipe is not None and not pipe.pending:
            return True
        sock = socket_of(g.snapshot, t.wait.target)
        if sock is not None and not sock.pending:
            return True
    return False


def _writer_gone(g: Graph) -> bool:
    """A reader of an empty pipe whose write end only the reader itself holds, or nobody."""
    for p, t in _kind(g, WaitKind.READ):
        pipe = pipe_of(g.snapshot, t.wait.target)
        if pipe is not None and {h.pid for h in pipe.writers} <= {p.pid}:
            return True
    return False


def _primitive(g: Graph) -> bool:
    return any(primitive(t) is not None for _, t in _stuck(g))


def _lock_alone(g: Graph) -> bool:
    """A thread waits on a lock of its own process, and no other thread there could free it."""
    for p, t in _kind(g, WaitKind.FUTEX):
        if t.wait.private and len([o for o in p.threads if o.state not in ("Z", "X")]) == 1:
            return True
    return False


def _holds_further_out(g: Graph) -> bool:
    for _, t in _kind(g, WaitKind.FUTEX):
        user = [f for f in stacks.own_frames(t) if not stacks.is_library(f.filename)]
        if any(held_at(f) for f in user[1:]):
            return True
    return False


def _forked_child(g: Graph) -> bool:
    return any(p.role is Role.CHILD and any(
        stacks.in_function(t, "multiprocessing/popen_fork.py", ["_launch"]) for t in p.threads)
        for p, _ in _stuck(g))


def _exiting(g: Graph) -> bool:
    return any(at_exit(t) for _, t in _stuck(g))


def _stacks(g: Graph) -> bool:
    return any(t.frames for _, t in _stuck(g))


PATTERNS: Sequence[Tuple[str, Tuple[Fact, ...]]] = (
    ("join-before-drain", (
        Fact("a process waits for a child to exit", _joins),
        Fact("a process is blocked writing to a pipe", lambda g: bool(_writes(g))),
        Fact("the writer is the child being waited for", _awaited_writer))),
    ("pipe-both-send", (
        Fact("a process is blocked writing to a pipe", lambda g: bool(_writes(g))),
        Fact("two writers each wait for the other to read", _both_send))),
    ("get-without-producer", (
        Fact("a thread reads from an empty pipe or socket", _reads_empty),
        Fact("no other process holds its write end", _writer_gone))),
    ("never-signalled", (
        Fact("a thread waits on a lock, event or semaphore", lambda g: bool(
            _kind(g, WaitKind.FUTEX))),
        Fact("the Python stack shows which primitive (Event, Condition, Barrier, Semaphore, "
             "Lock)", _primitive))),
    ("lock-reentered", (
        Fact("a thread waits on a lock, event or semaphore", lambda g: bool(
            _kind(g, WaitKind.FUTEX))),
        Fact("a frame further out on that thread's stack holds a lock (a `with` block or an "
             "acquire() around the call)", _holds_further_out))),
    ("fork-with-lock-held", (
        Fact("a thread waits on a lock of its own process that no other thread of it can "
             "release", _lock_alone),
        Fact("the process is a forked child", _forked_child))),
    ("exit-blocked-by-child", (
        Fact("a process waits for a child to exit", _joins),
        Fact("the waiting process is in its exit (atexit, thread shutdown)", _exiting))),
)


def closest(g: Graph) -> Optional[Near]:
    """The known pattern with the most of its facts in ``g`` (the first, on a tie), or None
    when none of them has any."""
    best: Optional[Near] = None
    best_score = 0.0
    for slug, facts in PATTERNS:
        present = [f for f in facts if f.holds(g)]
        missing = [f for f in facts if f not in present]
        if not present:
            continue
        score = len(present) / len(facts)
        if score > best_score:
            best_score = score
            why = missing[0].text if missing else (
                f"what else its rule checks (docs/diagnoses/{slug}.md) did not hold")
            best = Near(slug, tuple(f.text for f in present), why)
    if best is not None and not _stacks(g):
        best = best._replace(missing=best.missing + " (no Python stacks were read: the rules "
                                                     "that need them could not look)")
    return best


def text(near: Near) -> str:
    return (f"closest known pattern: {near.slug} -- {'; '.join(near.present)}; but not this: "
            f"{near.missing}")
