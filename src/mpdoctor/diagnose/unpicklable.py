"""``unpicklable-payload`` and ``feeder-dropped-item``: something that had to cross a process
boundary could not be pickled.

The in-process hooks catch the pickling error where multiprocessing pickles (the same pickler,
the same protocol), find the path to the object that cannot be pickled, and report the
operation and the user's line.  ``Queue.put`` is special: it does not raise; the queue's feeder
thread pickles later, prints a traceback (or nothing, if the process is already exiting) and
drops the item.  A consumer waiting in ``get()`` for that item then waits forever: with a proven
deadlock, the drop and the stuck ``get()`` are reported as one finding.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterable, List, Optional, Tuple

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import describe, who
from mpdoctor.diagnose.waitfor import Graph, pipe_of
from mpdoctor.hooks import protocol
from mpdoctor.model import Event, Finding, Severity, WaitKind

UNPICKLABLE = slug("unpicklable-payload",
                   "something sent to another process cannot be pickled: the path to the culprit, "
                   "the operation, the line", "unpicklable_payload/fix_module_function.py")
DROPPED = slug("feeder-dropped-item",
               "`Queue.put()` of an unpicklable object: the feeder thread dropped it (and the "
               "`get()` it leaves waiting)", "feeder_dropped_item/fix_plain_data.py")


def _fix(e: Event) -> str:
    d = e.data
    culprit = str(d.get("culprit") or "")
    path = str(d.get("path") or "")
    op = d.get("op")
    if culprit.endswith(("builtins.function",)) and ("<lambda>" in path or "local" in
                                                      str(d.get("error", ""))):
        fix = ("Define the function at module level (with def), so another process can import "
               "it by name; pass data through arguments instead of closures.")
        if op == "Process start":
            fix += (" Under the 'fork' start method (multiprocessing.get_context('fork')) a local "
                    "function works as a Process target, because nothing is pickled.")
        return fix
    if "builtins.function" in culprit:
        return "Pass a module-level function, which is pickled by its importable name."
    if any(x in culprit for x in ("_thread.", "threading.", "synchronize.")):
        return ("Do not send objects that hold locks: drop the lock in __getstate__ and create "
                "a new one in __setstate__, or pass a multiprocessing lock to the process at "
                "creation (Process(args=(lock,)) / Pool(initializer=..., initargs=(lock,))).")
    if "multiprocessing.pool" in culprit:
        return ("A Pool cannot travel with the task: do not send methods of an object that holds "
                "the pool; pass a module-level function (or a trampoline func(client, x) that "
                "takes the data it needs), or drop the pool in __getstate__.")
    return ("Send only picklable data: drop or recreate the object named in the path "
            "(__getstate__/__setstate__), or send what is needed to rebuild it.")


def _key(e: Event) -> Tuple:
    d = e.data
    return (d.get("op"), d.get("site"), d.get("path"), d.get("error"))


def _evidence(e: Event) -> List[str]:
    d = e.data
    out = [f"{d.get('op')} in process {e.pid}"
           + (f" (thread {d.get('thread')})" if d.get("thread") else "")
           + f" failed: {d.get('error')}"]
    if d.get("path"):
        out.append(f"the object that cannot be pickled: {d.get('path')}")
    if d.get("why"):
        out.append(f"why: {d.get('why')}")
    if d.get("site"):
        out.append(f"sent from {d.get('site')}")
    return out


def _finding(e: Event, count: int, slug: str, severity: Severity, summary: str,
             extra: Iterable[str] = (), pids: Tuple[int, ...] = ()) -> Finding:
    d = e.data
    evidence = _evidence(e) + list(extra)
    if count > 1:
        evidence.append(f"the same error happened {count} times")
    data = {k: d.get(k) for k in ("op", "site", "path", "culprit", "why", "error", "dropped",
                                  "pipe")}
    data["pid"] = e.pid
    data["count"] = count
    return Finding(slug=slug, severity=severity, summary=summary, evidence=tuple(evidence),
                   fix=_fix(e), docs=f"docs/diagnoses/{slug}.md", pids=pids or (e.pid,),
                   data=data)


def _grouped(events: Iterable[Event]) -> List[Tuple[Event, int]]:
    groups: Dict[Tuple, List[Event]] = {}
    for e in events:
        groups.setdefault(_key(e), []).append(e)
    return [(es[0], len(es)) for es in groups.values()]


def _what(e: Event) -> str:
    d = e.data
    path = d.get("path") or "the payload"
    where = f" at {d.get('site')}" if d.get("site") else ""
    return f"{d.get('op')}{where} could not pickle {path}"


@rule(Phase.EVENTS, 10, (UNPICKLABLE, DROPPED))
def from_events(events: Iterable[Event], linked: Iterable[Event] = ()) -> List[Finding]:
    """Findings for every pickling error the hooks saw, except the drops already reported
    together with the get() they left waiting."""
    skip = {id(e) for e in linked}
    errors = [e for e in events if e.kind == protocol.PICKLE_ERROR and id(e) not in skip]
    out = []
    for e, n in _grouped(x for x in errors if not x.data.get("dropped")):
        out.append(_finding(e, n, UNPICKLABLE, Severity.ERROR,
                            f"{_what(e)}: {e.data.get('why') or e.data.get('error')}"))
    for e, n in _grouped(x for x in errors if x.data.get("dropped")):
        out.append(_finding(
            e, n, DROPPED, Severity.WARNING,
            f"{_what(e)}; put() did not raise: the queue's feeder thread dropped the item, and "
            "whoever waits for it will not get it",
            extra=["Queue.put() pickles in a background feeder thread: the error is printed "
                   "there (or not at all if the process is exiting) and the item is lost "
                   "(cpython#84376)"]))
    return out


@rule(Phase.DEADLOCK, 10, (DROPPED,))
def check(g: Graph) -> List[Finding]:
    """A stuck get() whose item was dropped by a feeder: one finding for both."""
    s = g.snapshot
    drops = [e for e in s.events if e.kind == protocol.PICKLE_ERROR and e.data.get("dropped")]
    if not drops:
        return []
    findings = []
    for proc, thread in list(g.stuck_threads()):
        w = thread.wait
        if w.kind is not WaitKind.READ:
            continue
        pipe = pipe_of(s, w.target)
        if pipe is None:
            continue
        match: Optional[Event] = next((e for e in drops if e.data.get("pipe") == pipe.inode),
                                      None)
        if match is None:
            continue
        site = stacks.user_frame(thread)
        n = sum(1 for e in drops if e.data.get("pipe") == pipe.inode)
        summary = (f"{who(s, proc.pid)} waits forever in get()"
                   f"{f' at {stacks.where(site, False)}' if site else ''} for an item that was "
                   f"never sent: {_what(match)}, and the queue's feeder thread dropped it")
        f = _finding(match, n, DROPPED, Severity.ERROR, summary,
                     extra=[describe(s, proc, thread),
                            f"the dropped item was put on this queue (pipe:[{pipe.inode}]), "
                            "which the waiting get() reads"],
                     pids=tuple(sorted({proc.pid, match.pid})))
        f.data["reader"] = {"pid": proc.pid, "tid": thread.tid,
                            "site": stacks.site(site)}
        findings.append(dataclasses.replace(
            f, explains=((proc.pid, thread.tid),),
            linked=tuple(e for e in drops if e.data.get("pipe") == pipe.inode)))
    return findings
