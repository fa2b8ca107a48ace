"""Properties of the proof on random snapshots (hypothesis): what it calls stuck was observed
blocked, for the whole observation window, on something only stuck threads could provide;
and it never depends on what a process is (forkserver, resource tracker, ...)."""

from __future__ import annotations

import dataclasses
import signal

from hypothesis import given, settings
from hypothesis import strategies as st

from mpdoctor.diagnose import waitfor
from mpdoctor.model import (Holder, Pipe, PolledFd, Process, Role, SharedMapping, Snapshot,
                            Thread, Timer, Wait, WaitKind)

PIPES = 4
KINDS = [WaitKind.FUTEX, WaitKind.READ, WaitKind.WRITE, WaitKind.CHILD, WaitKind.POLL,
         WaitKind.SLEEP, WaitKind.RUNNING, WaitKind.OTHER]


@st.composite
def snapshots(draw):
    n = draw(st.integers(1, 6))
    pids = list(range(10, 10 + n))
    pipes = []
    for i in range(PIPES):
        pipes.append(Pipe(
            inode=100 + i, pending=draw(st.sampled_from([0, 0, 0, 5])), capacity=65536,
            readers=tuple(Holder(p, 3) for p in draw(st.sets(st.sampled_from(pids)))),
            writers=tuple(Holder(p, 4) for p in draw(st.sets(st.sampled_from(pids)))),
            outside=draw(st.booleans()) and draw(st.booleans())))
    shared = SharedMapping("0:1", "/dev/shm/x (deleted)",
                           mappers=tuple(draw(st.sets(st.sampled_from(pids)))),
                           named=draw(st.booleans()))
    processes = []
    for i, pid in enumerate(pids):
        threads = []
        for j in range(draw(st.integers(1, 3))):
            tid = pid if j == 0 else pid * 100 + j
            kind = draw(st.sampled_from(KINDS))
            target = f"pipe:[{100 + draw(st.integers(0, PIPES - 1))}]"
            wait = Wait(kind, kind.value, indefinite=draw(st.booleans()) or draw(st.booleans()),
                        fd=3, target=target if kind in (WaitKind.READ, WaitKind.WRITE) else "",
                        pid=draw(st.sampled_from(pids + [-1])) if kind is WaitKind.CHILD else None,
                        private=draw(st.booleans()) if kind is WaitKind.FUTEX else None,
                        shared_key="0:1" if kind is WaitKind.FUTEX else "",
                        fds=tuple(PolledFd(5, True, draw(st.booleans()), target)
                                  for _ in range(draw(st.integers(0, 2))))
                        if kind is WaitKind.POLL else ())
            threads.append(Thread(tid=tid, state=draw(st.sampled_from("SSSSRD")), wait=wait,
                                  still=draw(st.booleans()) or draw(st.booleans())))
        timers = ()
        if draw(st.booleans()) and draw(st.booleans()):
            timers = (Timer(int(signal.SIGALRM), "alarm",
                            expires=draw(st.floats(990.0, 1010.0))),)
        processes.append(Process(
            pid=pid, ppid=pids[(i - 1) // 2] if i else 1, state="S",
            role=Role.MAIN if i == 0 else draw(st.sampled_from(list(Role)[1:])),
            threads=tuple(threads), timers=timers,
            hooks=draw(st.sampled_from([True, True, False, None])),
            sig_caught=draw(st.sampled_from([0, 1 << (signal.SIGCHLD - 1),
                                             1 << (signal.SIGALRM - 1)])),
            sig_ignored=draw(st.sampled_from([0, 0, 1 << (signal.SIGALRM - 1)]))))
    return Snapshot(root_pid=10, processes=tuple(processes), pipes=tuple(pipes),
                    shared=(shared,), monotonic=1000.0, signals=draw(st.booleans()),
                    alarm_timers=draw(st.sampled_from([None, (), (1003.0,)])))


def _thread(snap, pid, tid):
    return next(t for t in snap.by_pid[pid].threads if t.tid == tid)


@settings(max_examples=400, deadline=None)
@given(snapshots())
def test_every_stuck_thread_was_observed_blocked_the_whole_window(snap):
    g = waitfor.build(snap)
    for _, pid, tid in g.stuck:
        t = _thread(snap, pid, tid)
        assert t.still, "a thread that ran during the observation window is never stuck"
        assert t.state not in ("R", "D", "T", "t")
        assert t.wait.indefinite and t.wait.kind not in waitfor.LIVE_KINDS
        proc = snap.by_pid[pid]
        if waitfor.signal_target(proc) is t:
            assert not waitfor.timer_reason(snap, proc), "a timer may still wake it"
        # and everything that could wake it is stuck too
        for w in g.wakers[("t", pid, tid)]:
            assert w not in g.live


@settings(max_examples=300, deadline=None)
@given(snapshots(), st.lists(st.sampled_from(list(Role)[1:]), min_size=6, max_size=6))
def test_the_proof_does_not_depend_on_what_a_process_is(snap, roles):
    relabelled = dataclasses.replace(snap, processes=tuple(
        p if p.pid == snap.root_pid else dataclasses.replace(p, role=roles[i])
        for i, p in enumerate(snap.processes)))
    assert waitfor.build(snap).stuck == waitfor.build(relabelled).stuck


@settings(max_examples=300, deadline=None)
@given(snapshots(), st.data())
def test_a_thread_that_ran_breaks_no_proof_and_joins_none(snap, data):
    g = waitfor.build(snap)
    if not g.stuck:
        return
    _, pid, tid = data.draw(st.sampled_from(sorted(g.stuck)))
    moved = dataclasses.replace(snap, processes=tuple(
        dataclasses.replace(p, threads=tuple(
            dataclasses.replace(t, still=False) if (p.pid, t.tid) == (pid, tid) else t
            for t in p.threads)) for p in snap.processes))
    g2 = waitfor.build(moved)
    assert ("t", pid, tid) not in g2.stuck
    assert g2.stuck <= g.stuck  # more movement never makes more threads stuck
