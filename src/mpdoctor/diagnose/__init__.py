"""Pure functions from a :class:`~mpdoctor.model.Snapshot` to findings.

``diagnose(snapshot)`` builds the wait-for graph, proves (or not) that the script can never move
again, and runs every rule.  Rules live one per module and return :class:`Finding` objects;
they never print and never touch a process.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Dict, List, Optional, Sequence, Tuple

from mpdoctor.diagnose import describe as describe_mod
from mpdoctor.diagnose import registry, stacks, waitfor
from mpdoctor.diagnose.registry import Phase
from mpdoctor.model import Diagnosis, Event, Finding, Link, Severity, Snapshot

UNEXPLAINED = registry.slug(
    "unexplained-deadlock",
    "a proven deadlock that matches no known pattern: the chain, every stack and the "
    "closest known pattern")

def __getattr__(name: str) -> Tuple[str, ...]:
    if name == "SLUGS":
        # every slug mpdoctor can put in a report (each has docs/diagnoses/<slug>.md)
        registry.load()
        return tuple(registry.SLUGS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def links(g: waitfor.Graph, nodes) -> Tuple[Link, ...]:
    s = g.snapshot
    out = []
    for _, pid, tid in nodes:
        proc = s.by_pid[pid]
        thread = next(t for t in proc.threads if t.tid == tid)
        out.append(Link(pid, tid, describe_mod.describe(s, proc, thread)))
    return tuple(out)


def _complete(f: Finding) -> Finding:
    """A finding with its docs page and example from the registry, where the rule left them."""
    info = registry.SLUGS.get(f.slug)
    if info is None or (f.docs and f.repro):
        return f
    return dataclasses.replace(f, docs=f.docs or info.docs, repro=f.repro or info.repro)


def run_rules(g: waitfor.Graph, phase: Phase) -> List[Finding]:
    """Every rule of a graph phase, in the registry's order.  What each finding explains is
    recorded on the graph here (and only here), so later rules leave those threads alone."""
    out: List[Finding] = []
    for r in registry.rules(phase):
        for f in r.func(g):
            g.claimed.update(f.explains)
            g.linked_events.extend(f.linked)
            out.append(_complete(f))
    return out


def diagnose_events(events: Sequence[Event], linked: Sequence[Event] = ()) -> List[Finding]:
    """Findings from the hooks' events alone (for any verdict, a clean exit included)."""
    out: List[Finding] = []
    for r in registry.rules(Phase.EVENTS):
        out.extend(_complete(f) for f in r.func(events, linked))
    return out


def diagnose_crash(events: Sequence[Event], found: Sequence[Finding] = ()) -> List[Finding]:
    """When the script failed: what failed first in the tree, from the hooks' events (``found``:
    what the events already explained, which a crash rule may leave alone)."""
    out: List[Finding] = []
    for r in registry.rules(Phase.CRASH):
        out.extend(_complete(f) for f in r.func(events, tuple(found) + tuple(out)))
    return out


def diagnose(snapshot: Snapshot) -> Diagnosis:
    with stacks.using(snapshot):
        return _diagnose(snapshot)


def _diagnose(snapshot: Snapshot) -> Diagnosis:
    g = waitfor.build(snapshot)
    stuck = tuple(sorted((pid, tid) for _, pid, tid in g.stuck))
    if not g.deadlocked:
        movable = tuple(Link(pid, tid, f"{describe_mod.who(snapshot, pid)}, thread {tid}: {why}")
                        for (_, pid, tid), why in sorted(g.live_reason.items()))
        hints = run_rules(g, Phase.UNPROVEN)
        hints.extend(unless_hidden_timers(snapshot, g))
        hints.extend(diagnose_events(snapshot.events))
        return Diagnosis(False, (), tuple(hints), stuck, movable)
    chain = links(g, waitfor.chain(g))
    findings = run_rules(g, Phase.DEADLOCK)
    extra = diagnose_events(snapshot.events, g.linked_events)
    if not findings and not any(f.severity is Severity.ERROR for f in extra):
        findings.append(unexplained(g, chain))
    findings.extend(extra)
    return Diagnosis(True, chain, tuple(group_alike(snapshot, findings)), stuck)


_NUMBER = re.compile(r"\b\d+\b")


def _shape(snapshot: Snapshot, f: Finding) -> Tuple[str, str, str, str]:
    """What a finding says with the pids taken out: two processes stuck the same way (children
    of one pool waiting on one event, say) give the same shape."""
    def blank(text: str) -> str:
        return _NUMBER.sub(lambda m: "#" if int(m.group()) in snapshot.by_pid else m.group(),
                           text)
    return f.slug, f.severity.value, blank(f.summary), blank(f.fix)


def group_alike(snapshot: Snapshot, findings: Sequence[Finding]) -> List[Finding]:
    """Processes stuck the same way give one finding, with how many and which: 300 workers
    waiting on one event are one problem, not 300.  The first keeps its evidence."""
    groups: Dict[Tuple[str, str, str, str], List[Finding]] = {}
    for f in findings:
        groups.setdefault(_shape(snapshot, f), []).append(f)
    out: List[Finding] = []
    for members in groups.values():
        first = members[0]
        if len(members) == 1:
            out.append(first)
            continue
        subjects = [_subject(m) for m in members]
        others = describe_mod.listing([describe_mod.who(snapshot, p) for p in subjects[1:]])
        out.append(dataclasses.replace(
            first,
            summary=f"{first.summary} (and {len(members) - 1} more processes the same way)",
            evidence=first.evidence + (f"the same for {others}",),
            pids=tuple(sorted({p for m in members for p in m.pids})),
            data={**first.data, "count": len(members), "alike": subjects[1:]}))
    return out


def _subject(f: Finding) -> int:
    """The process a finding is about: the first pid its summary names."""
    for m in _NUMBER.finditer(f.summary):
        pid = int(m.group())
        if pid in f.pids:
            return pid
    return f.pids[0] if f.pids else 0


def unless_hidden_timers(snapshot: Snapshot, g: waitfor.Graph) -> List[Finding]:
    """No deadlock is claimed through a process that a timer mpdoctor cannot see might signal
    (no hooks run in it).  When that doubt is all that stands between the tree and a proof,
    say what the proof would be, as warnings: the same findings, marked not proven."""
    doubts = sorted({pid for (_, pid, _), why in g.live_reason.items()
                     if why.startswith(waitfor.HIDDEN_TIMER)})
    if not doubts:
        return []
    assumed = waitfor.build(snapshot, hidden_timers=False)
    if not assumed.deadlocked:
        return []
    found = run_rules(assumed, Phase.DEADLOCK)
    if not found:
        found.append(unexplained(assumed, links(assumed, waitfor.chain(assumed))))
    who = ", ".join(describe_mod.who(snapshot, pid) for pid in doubts[:5])
    unless = (f"not proven: {who} may be signalled by an alarm timer mpdoctor cannot see "
              "(its hooks do not run there); unless one fires, nothing in the tree can move")
    how = ("To prove it, run the program under `mpdoctor check` (its hooks see every timer "
           "the program sets), or make /proc/timer_list readable (run as root): it shows "
           "whether any alarm timer is armed.")
    return [dataclasses.replace(
        f, severity=Severity.WARNING, summary=f"likely: {f.summary} ({unless})",
        evidence=f.evidence + (how,),
        data={**f.data, "proven": False, "unless_timers": doubts}) for f in found]


def unexplained(g: waitfor.Graph, chain: Tuple[Link, ...]) -> Finding:
    """The honest fallback: the deadlock is proven, but no rule knows its shape."""
    from mpdoctor.diagnose import closest

    pids = tuple(sorted({pid for pid, _ in ((p, t) for _, p, t in g.stuck)}))
    cycle = len(chain) > 1 and (chain[0].pid, chain[0].tid) == (chain[-1].pid, chain[-1].tid)
    near = closest.closest(g)
    evidence = tuple(link.text for link in (chain[:-1] if cycle else chain))
    if near is not None:
        evidence += (closest.text(near),)
    return Finding(
        slug=UNEXPLAINED, severity=Severity.ERROR,
        summary=(f"{describe_mod.count(len(g.stuck), 'thread')} in "
                 f"{describe_mod.count(len(pids), 'process')} wait on each other and none can "
                 "ever move again; no known pattern matches"),
        evidence=evidence,
        fix=("Read the wait-for chain and the stacks below: each thread waits for the next. "
             "Break the cycle at the wait that should have had a timeout or a different order."),
        docs="docs/diagnoses/unexplained-deadlock.md", pids=pids,
        data={"site": _root_site(g.snapshot),
              "closest": None if near is None else {"slug": near.slug,
                                                    "present": list(near.present),
                                                    "missing": near.missing}})


def _root_site(s: Snapshot) -> Optional[str]:
    """The user's line the script's main thread is stuck at."""
    root = s.root
    thread = root.main_thread if root is not None else None
    return stacks.site(stacks.user_frame(thread)) if thread is not None else None


def silence(diagnosis: Optional[Diagnosis], slugs: Sequence[str]
            ) -> Tuple[Optional[Diagnosis], List[str]]:
    """The diagnosis without the warnings the user asked to ignore (``--ignore``), and notes
    that say what was left out.  A finding of severity error (a proven deadlock, a pickling
    error) is never silenced: it stays, and a note says so."""
    if diagnosis is None or not slugs:
        return diagnosis, []
    wanted = set(slugs)
    kept: List[Finding] = []
    dropped: List[Finding] = []
    refused = set()
    for f in diagnosis.findings:
        if f.slug in wanted and f.severity is not Severity.ERROR:
            dropped.append(f)
        else:
            if f.slug in wanted:
                refused.add(f.slug)
            kept.append(f)
    notes = []
    if dropped:
        names = sorted({f.slug for f in dropped})
        notes.append(f"left out as asked (--ignore): {describe_mod.count(len(dropped), 'warning')}"
                     f" ({', '.join(names)})")
    for slug in sorted(refused):
        notes.append(f"--ignore {slug}: not left out, it is an error (a proven deadlock or a "
                     "failure is never silenced)")
    return dataclasses.replace(diagnosis, findings=tuple(kept)), notes


def check_slugs(slugs: Sequence[str], where: str) -> List[str]:
    """The slugs of an ignore list, each one known; a bad one is a usage error naming where
    it came from."""
    from mpdoctor.errors import UsageError

    registry.load()
    out: List[str] = []
    for item in slugs:
        for slug in (s.strip() for s in item.split(",")):
            if not slug:
                continue
            if slug not in registry.SLUGS:
                raise UsageError(f"{slug!r} (from {where}) is not a diagnosis mpdoctor reports.",
                                 f"The slugs are: {', '.join(sorted(registry.SLUGS))}.")
            out.append(slug)
    return out
