"""``polling-without-progress``: at a timeout, a thread circles a polling loop (a sleep and a
flag, ``is_alive()``, ``empty()``/``get_nowait()``, a wait with a timeout retried for ever)
while nothing else in the tree can act: what it polls for can never change.

Nothing here is a proof: the stacks are samples, and something outside the tree might still
change what the loop polls (a file, a socket).  The finding is a warning that says "likely",
and the verdict stays ``timeout``.  The evidence:

* the samples (``Snapshot.samples``, read over about a second at the timeout): in every one,
  the thread's innermost line of user code lies in the same few lines of one function, called
  from the same lines;
* the loop polls: the thread was idle in a sample (a sleep, a wait with a timeout), it calls a
  polling function of the library, or its lines do;
* the wait-for graph, with the looping threads taken as waiting for any other thread of the
  tree: they are stuck, so no other thread of the tree can act to end their loop.
"""

from __future__ import annotations

import dataclasses
import linecache
import re
from typing import Dict, List, Optional, Sequence, Tuple

from mpdoctor.diagnose import stacks, waitfor
from mpdoctor.diagnose.describe import count, exit_text, listing, thread_label, who
from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose.waitfor import Graph
from mpdoctor.hooks import protocol
from mpdoctor.model import Finding, Frame, Sample, Severity, Snapshot, Thread

SLUG = slug("polling-without-progress",
            "a loop polls for something that nothing left in the tree can change (likely, at a "
            "timeout)", "polling_without_progress/fix_check_the_child.py")

#: what a loop needs to count as circling: this many samples, over at least this long
MIN_SAMPLES = 3
MIN_SPAN = 0.5
#: the lines a loop's samples may spread over
LOOP_LINES = 30
#: library functions that poll (the last part of their qualified name)
POLLS = {"empty", "full", "qsize", "get_nowait", "get", "poll", "is_alive", "ready",
         "successful", "wait", "acquire", "exitcode", "getvalue", "__getitem__", "sleep",
         "recv", "select", "join", "result", "done", "exists", "_poll", "_recv"}
#: words in the loop's lines that show what it polls
SOURCE_POLLS = re.compile(r"\b(is_alive|empty|get_nowait|poll|kill|sleep|exitcode|value|"
                          r"ready|timeout|exists|done|qsize)\b")
FIX = ("Make the loop find out when what it waits for can no longer come: check the process "
       "that should answer (p.is_alive(), p.exitcode; a pid from os.kill(pid, 0) can be a "
       "zombie that answers for ever) and stop when it has died; wait on something that ends "
       "(a queue sentinel sent in a finally block, an Event set in a finally block, "
       "Connection.poll with a timeout plus that liveness check) rather than polling a flag; "
       "and bound the retries of a wait with a timeout.")


@dataclasses.dataclass(frozen=True)
class Loop:
    pid: int
    tid: int
    frame: Frame  # the innermost user frame of the last sample
    first: int  # the lines the samples spread over
    last: int
    samples: int
    span: float  # seconds between the first and the last sample
    idle: bool  # seen idle (a sleep, a wait with a timeout) in a sample
    calls: Tuple[str, ...]  # the library functions called from the loop


def loops(s: Snapshot) -> Dict[Tuple[int, int], Loop]:
    """The threads whose samples all lie in one small stretch of one user function, called
    from the same place, and which poll."""
    by_thread: Dict[Tuple[int, int], List[Sample]] = {}
    for smp in s.samples:
        by_thread.setdefault((smp.pid, smp.tid), []).append(smp)
    out: Dict[Tuple[int, int], Loop] = {}
    for key, seen in by_thread.items():
        seen.sort(key=lambda x: x.at)
        if len(seen) < MIN_SAMPLES or seen[-1].at - seen[0].at < MIN_SPAN:
            continue
        proc = s.by_pid.get(key[0])
        thread = next((t for t in proc.threads if t.tid == key[1]), None) if proc else None
        if thread is None:
            continue
        loop = _loop(thread, seen)
        if loop is not None:
            out[key] = loop
    return out


def _loop(thread: Thread, seen: Sequence[Sample]) -> Optional[Loop]:
    place = None
    lines: List[int] = []
    calls: List[str] = []
    frame: Optional[Frame] = None
    for smp in seen:
        own = stacks.own_frames(dataclasses.replace(thread, frames=smp.frames))
        i = next((k for k, f in enumerate(own) if not stacks.is_library(f.filename)), None)
        if i is None:
            return None
        f = own[i]
        here = (f.filename, f.function, tuple((o.filename, o.function, o.line)
                                              for o in own[i + 1:]))
        if place is None:
            place = here
        elif here != place:
            return None  # the thread moved on: it is not circling one loop
        lines.append(f.line)
        frame = f
        if i > 0:  # the library function the loop called (not what that one called)
            entry = own[i - 1].function
            if entry.rsplit(".", 1)[-1] in POLLS and entry not in calls:
                calls.append(entry)
    assert frame is not None
    first, last = min(lines), max(lines)
    if last - first > LOOP_LINES:
        return None
    first, last = enclosing_loop(frame.filename, first, last)
    idle = any(smp.active is False for smp in seen)
    text = " ".join(linecache.getline(frame.filename, n) for n in range(first, last + 1))
    if not (idle or calls or SOURCE_POLLS.search(text)):
        return None  # a loop that does not poll: work, for all the samples can tell
    return Loop(seen[0].pid, thread.tid, frame, first, last, len(seen),
                seen[-1].at - seen[0].at, idle, tuple(calls))


_HEADER = re.compile(r"(while|for|async\s+for)\b")


def enclosing_loop(filename: str, first: int, last: int) -> Tuple[int, int]:
    """The lines of the innermost ``while``/``for`` statement around lines first..last, from
    the source (the samples mostly catch the line that sleeps, not the test that loops); the
    same lines when the source cannot be read or shows no loop close by."""
    def indent(text: str) -> int:
        return len(text) - len(text.lstrip())

    body = linecache.getline(filename, first)
    if not body.strip():
        return first, last
    level = indent(body)
    for n in range(first, max(0, first - LOOP_LINES), -1):
        text = linecache.getline(filename, n)
        if not text.strip():
            continue
        if (indent(text) < level or n == first) and _HEADER.match(text.strip()):
            end, k = n, n + 1
            while k <= n + LOOP_LINES:
                nxt = linecache.getline(filename, k)
                if not nxt:
                    break
                if nxt.strip() and not nxt.lstrip().startswith("#"):
                    if indent(nxt) <= indent(text):
                        break
                    end = k
                k += 1
            if end >= last:
                return n, end
            return first, last
        if indent(text) < level:
            level = indent(text)
    return first, last


@rule(Phase.UNPROVEN, 70, (SLUG,))
def check(g: Graph) -> List[Finding]:
    s = g.snapshot
    found = {k: v for k, v in loops(s).items() if k not in g.claimed}
    if not found:
        return []
    assumed = waitfor.build(s, pollers=frozenset(found))
    out = []
    for key, loop in sorted(found.items()):
        if not assumed.is_stuck(*key):
            continue  # something else in the tree can still act: it may end the loop
        out.append(_finding(s, assumed, loop, found))
    return out


def _finding(s: Snapshot, g: Graph, loop: Loop, others: Dict[Tuple[int, int], Loop]
             ) -> Finding:
    proc = s.by_pid[loop.pid]
    thread = next(t for t in proc.threads if t.tid == loop.tid)
    span = (f"line {loop.first}" if loop.first == loop.last
            else f"lines {loop.first}-{loop.last}")
    where = f"{loop.frame.filename}:{loop.first}"
    label = thread_label(proc, thread)
    summary = (f"likely: {who(s, proc.pid)} ({label}) polls in a loop at {where} "
               f"({loop.frame.function}) for something that nothing left in the tree can "
               "change; it will not end by itself")
    evidence = [f"{who(s, proc.pid)}, {label}: circles {span} of {loop.frame.function} "
                f"({loop.frame.filename}) in all {loop.samples} samples over "
                f"{loop.span:.1f} s"]
    for n in range(loop.first, min(loop.last, loop.first + 5) + 1):
        text = linecache.getline(loop.frame.filename, n).rstrip()
        if text.strip():
            evidence.append(f"  {n}: {text.strip()}")
    how = []
    if loop.calls:
        how.append(f"it calls {listing([c + '()' for c in loop.calls])} each turn")
    if loop.idle:
        how.append("it sleeps or waits with a timeout between turns")
    if how:
        evidence.append("; ".join(how))
    rest = _rest(s, g, loop, others)
    evidence.append("nothing else in the tree can act to change what it polls: "
                    + (listing(rest) if rest else "it is alone"))
    evidence.extend(_deaths(s))
    evidence.append("(from samples of its stack, not a proof: something outside the tree "
                    "could still change what it polls, a file or a socket say)")
    data = {"site": stacks.site(loop.frame), "proven": False,
            "poller": {"pid": proc.pid, "tid": thread.tid, "first": loop.first,
                       "last": loop.last, "function": loop.frame.function,
                       "file": loop.frame.filename, "samples": loop.samples,
                       "calls": list(loop.calls), "idle": loop.idle}}
    return Finding(slug=SLUG, severity=Severity.WARNING, summary=summary,
                   evidence=tuple(evidence), fix=FIX, pids=(proc.pid,), data=data,
                   explains=((proc.pid, thread.tid),))


def _rest(s: Snapshot, g: Graph, loop: Loop, others: Dict[Tuple[int, int], Loop]
          ) -> List[str]:
    out = []
    for p in s.processes:
        if p.state == "Z":
            out.append(f"{who(s, p.pid)} {exit_text(p.exit_status)} (not yet joined)")
            continue
        stuck = [t for t in p.threads if (p.pid, t.tid) != (loop.pid, loop.tid)
                 and (p.pid, t.tid) not in others and g.is_stuck(p.pid, t.tid)]
        polling = [t for t in p.threads if (p.pid, t.tid) in others
                   and (p.pid, t.tid) != (loop.pid, loop.tid)]
        if stuck:
            out.append(f"{who(s, p.pid)}: {count(len(stuck), 'thread')} blocked for ever")
        if polling:
            out.append(f"{who(s, p.pid)}: {count(len(polling), 'thread')} polling the same way")
    return out


def _deaths(s: Snapshot) -> List[str]:
    """The processes of the tree that died, as the hooks saw them: who may have been meant to
    make the change."""
    errors = {e.pid: e for e in s.events if e.kind == protocol.UNCAUGHT}
    out = []
    for e in s.events:
        if e.kind != protocol.CHILD_EXIT:
            continue
        child = e.data.get("child")
        line = f"{who(s, e.pid)}'s child {child} {exit_text(e.data.get('exitcode'))}"
        err = errors.get(int(child or 0))
        if err is not None:
            at = err.data.get("site")
            line += f": {err.data.get('error')}" + (f" (at {at})" if at else "")
        out.append(line)
    zombies = {p.pid for p in s.processes if p.state == "Z"}
    for pid, err in errors.items():
        if pid in zombies and not any(e.kind == protocol.CHILD_EXIT
                                      and e.data.get("child") == pid for e in s.events):
            at = err.data.get("site")
            out.append(f"{who(s, pid)} died of {err.data.get('error')}"
                       + (f" (at {at})" if at else ""))
    return out[:5]
