"""Pure functions from a :class:`~mpdoctor.model.Snapshot` to findings.

``diagnose(snapshot)`` builds the wait-for graph, proves (or not) that the script can never move
again, and runs every rule.  Rules live one per module and return :class:`Finding` objects;
they never print and never touch a process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

from mpdoctor.diagnose import describe as describe_mod
from mpdoctor.diagnose import (exit_blocked, fork_with_lock_held, get_without_producer,
                               join_before_drain, main_guard, never_signalled, pipe_both_send,
                               pool, put_without_consumer, stacks, unpicklable,
                               waitfor)
from mpdoctor.model import Event, Finding, Link, Severity, Snapshot

Rule = Callable[[waitfor.Graph], List[Finding]]

#: rules for a proven deadlock, most specific first (a rule claims the threads it explains)
RULES: Tuple[Rule, ...] = (
    unpicklable.check,
    pool.check,
    join_before_drain.check,
    exit_blocked.check,
    fork_with_lock_held.check,
    never_signalled.check,
    pipe_both_send.check,
    put_without_consumer.check,
    get_without_producer.check,
)

#: rules that describe a hang that cannot be proven (they accompany a "timeout" verdict)
UNPROVEN_RULES: Tuple[Rule, ...] = (exit_blocked.check_unproven,)

UNEXPLAINED = "unexplained-deadlock"

#: every slug mpdoctor can put in a report (each has docs/diagnoses/<slug>.md)
SLUGS: Tuple[str, ...] = (
    join_before_drain.SLUG, get_without_producer.SLUG, put_without_consumer.SLUG,
    never_signalled.SLUG, fork_with_lock_held.SLUG, exit_blocked.SLUG, pipe_both_send.SLUG,
    pool.WORKER_DIED, pool.HANDLER_DIED, pool.TERMINATED, unpicklable.UNPICKLABLE,
    unpicklable.DROPPED,
    main_guard.SLUG, UNEXPLAINED,
)


@dataclass(frozen=True)
class Diagnosis:
    deadlock: bool
    chain: Tuple[Link, ...]
    findings: Tuple[Finding, ...]
    stuck: Tuple[Tuple[int, int], ...]  # (pid, tid) of every thread proven stuck
    #: when nothing is proven: the threads that can still act by themselves, and why
    movable: Tuple[Link, ...] = ()


def links(g: waitfor.Graph, nodes) -> Tuple[Link, ...]:
    s = g.snapshot
    out = []
    for _, pid, tid in nodes:
        proc = s.by_pid[pid]
        thread = next(t for t in proc.threads if t.tid == tid)
        out.append(Link(pid, tid, describe_mod.describe(s, proc, thread)))
    return tuple(out)


def diagnose_events(events: Sequence[Event], linked: Sequence[Event] = ()) -> List[Finding]:
    """Findings from the hooks' events alone (for any verdict, a clean exit included)."""
    return unpicklable.from_events(events, linked) + main_guard.from_events(events)


def diagnose(snapshot: Snapshot) -> Diagnosis:
    with stacks.using(snapshot):
        return _diagnose(snapshot)


def _diagnose(snapshot: Snapshot) -> Diagnosis:
    g = waitfor.build(snapshot)
    stuck = tuple(sorted((pid, tid) for _, pid, tid in g.stuck))
    if not g.deadlocked:
        movable = tuple(Link(pid, tid, f"{describe_mod.who(snapshot, pid)}, thread {tid}: {why}")
                        for (_, pid, tid), why in sorted(g.live_reason.items()))
        hints: List[Finding] = []
        for rule in UNPROVEN_RULES:
            hints.extend(rule(g))
        hints.extend(diagnose_events(snapshot.events))
        return Diagnosis(False, (), tuple(hints), stuck, movable)
    chain = links(g, waitfor.chain(g))
    findings: List[Finding] = []
    for rule in RULES:
        findings.extend(rule(g))
    extra = diagnose_events(snapshot.events, g.linked_events)
    if not findings and not any(f.severity is Severity.ERROR for f in extra):
        findings.append(unexplained(g, chain))
    findings.extend(extra)
    return Diagnosis(True, chain, tuple(findings), stuck)


def unexplained(g: waitfor.Graph, chain: Tuple[Link, ...]) -> Finding:
    """The honest fallback: the deadlock is proven, but no rule knows its shape."""
    pids = tuple(sorted({pid for pid, _ in ((p, t) for _, p, t in g.stuck)}))
    cycle = len(chain) > 1 and (chain[0].pid, chain[0].tid) == (chain[-1].pid, chain[-1].tid)
    return Finding(
        slug=UNEXPLAINED, severity=Severity.ERROR,
        summary=(f"{describe_mod.count(len(g.stuck), 'thread')} in "
                 f"{describe_mod.count(len(pids), 'process')} wait on each other and none can "
                 "ever move again; no known pattern matches"),
        evidence=tuple(link.text for link in (chain[:-1] if cycle else chain)),
        fix=("Read the wait-for chain and the stacks below: each thread waits for the next. "
             "Break the cycle at the wait that should have had a timeout or a different order."),
        docs="docs/diagnoses/unexplained-deadlock.md", pids=pids)
