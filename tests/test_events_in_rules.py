"""No event the protocol lets through can make mpdoctor raise: every rule that reads events,
and every renderer of what they found, gets the nastiest valid events (from the protocol's own
declaration, see eventgen.py) on recorded snapshots where those rules fire."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventgen
from conftest import load_fixture
from mpdoctor.diagnose import diagnose, diagnose_events
from mpdoctor.hooks import protocol
from mpdoctor.model import Event
from mpdoctor.observe import timers
from mpdoctor.report import Report, console, github, html, jsonreport
from mpdoctor.run import engine

# one snapshot per rule that reads events: pool-worker-died (pool-worker-exit),
# pool-result-handler-died (thread-exception), join-before-drain (put-site), a stuck get()
# (pickle-error with dropped=true on its pipe), and one with no proof at all
FIXTURES = ["worker_exits_fork.json", "unpicklable_exception_fork.json", "seed_fork.json",
            "producer_dies_fork.json", "child_sleeps_fork.json"]
SNAPSHOTS = {name: load_fixture(name) for name in FIXTURES}


@st.composite
def events_for(draw, snapshot):
    """Valid events that point at this snapshot's processes and pipes where they can."""
    pids = [p.pid for p in snapshot.processes] or [1]
    inodes = [p.inode for p in snapshot.pipes] or [0]
    out = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(eventgen.kinds)
        data = draw(eventgen.fields(kind))
        if "pipe" in protocol.KINDS[kind].by_name and draw(st.booleans()):
            data["pipe"] = draw(st.sampled_from(inodes))
        if kind == protocol.PICKLE_ERROR and draw(st.booleans()):
            data["dropped"] = True
        if kind == protocol.POOL_WORKER_EXIT and draw(st.booleans()):
            data["worker"] = draw(st.sampled_from(pids))
        if kind == protocol.THREAD_EXCEPTION and draw(st.booleans()):
            data["thread"] = "Thread-3 (_handle_results)"
        pid = draw(st.sampled_from(pids) | st.integers(1, protocol.PID_MAX))
        at = draw(st.floats(0, protocol.EPOCH_MAX, allow_nan=False))
        out.append(Event(kind, pid, at, protocol.check(kind, data)))
    return out


def render_everything(report: Report) -> None:
    lines = console.render(report)
    console.print_report(report, io.StringIO(), color=True, lines=lines)
    json.loads(jsonreport.render(report))
    html.render(report)
    github.lines(report.findings, {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/work"})


@pytest.mark.parametrize("name", FIXTURES)
@given(data=st.data())
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_the_nastiest_valid_events_never_raise_in_a_rule_or_a_renderer(name, data):
    base = SNAPSHOTS[name]
    extra = data.draw(events_for(base))
    snap = dataclasses.replace(base, events=base.events + tuple(extra))
    diagnosis = diagnose(snap)
    timers.hook_facts(snap.events, {p.pid: p.starttime for p in snap.processes})
    for f in diagnose_events(snap.events):
        assert f.slug in ("unpicklable-payload", "feeder-dropped-item", "missing-main-guard")
    verdict = "deadlock" if diagnosis.deadlock else "timeout"
    render_everything(Report(verdict=verdict, exit_code=86, diagnosis=diagnosis, snapshot=snap,
                             timeout=1.0, notes=["n"]))
    # the same events when the script failed: what failed first
    crashed = engine.events_only(snap.events, failed=True)
    if crashed is not None:
        assert {f.slug for f in crashed.findings} <= {
            "unpicklable-payload", "feeder-dropped-item", "missing-main-guard",
            "broken-process-pool", "child-exception", "process-killed"}
        render_everything(Report(verdict="failed", exit_code=1, status=1, diagnosis=crashed))


def test_the_rules_do_read_the_events_given_to_them():
    """(So that the test above exercises them.)  A worker death, a dropped item, a put site
    and a main-guard each show in the diagnosis of their snapshot."""
    pool = SNAPSHOTS["worker_exits_fork.json"]
    [f] = [f for f in diagnose(pool).findings if f.slug == "pool-worker-died"]
    assert f.data["dead_workers"]
    seed = SNAPSHOTS["seed_fork.json"]
    [f] = diagnose(seed).findings
    assert f.data["put_sites"]
    getter = SNAPSHOTS["producer_dies_fork.json"]
    drops = [Event(protocol.PICKLE_ERROR, getter.root_pid, 1.0, protocol.check(
        protocol.PICKLE_ERROR, {"op": "Queue.put", "dropped": True, "site": "[/x]:1",
                                "path": None, "culprit": None, "why": None, "error": "E: \x00",
                                "pipe": p.inode})) for p in getter.pipes]
    d = diagnose(dataclasses.replace(getter, events=getter.events + tuple(drops)))
    assert "feeder-dropped-item" in [f.slug for f in d.findings]
    guard = Event(protocol.MAIN_GUARD, 5, 1.0, protocol.check(protocol.MAIN_GUARD,
                                                               {"site": None, "main": None}))
    assert [f.slug for f in diagnose_events([guard])] == ["missing-main-guard"]
