"""Timers end waits: a wait a timer will end is never part of a proof (no processes here)."""

from __future__ import annotations

import dataclasses
import signal

from mpdoctor.diagnose import diagnose, waitfor
from mpdoctor.model import Event, Process, Role, Snapshot, Thread, Timer, Wait, WaitKind
from mpdoctor.observe import procfs, timers

ALRM = int(signal.SIGALRM)
NOW = 1000.0


def _stuck_root(**proc_changes) -> Snapshot:
    """A main thread that waits on a lock of its own, with no other thread: stuck, unless a
    signal comes."""
    main = Thread(tid=10, state="S", still=True,
                  wait=Wait(WaitKind.FUTEX, "futex", indefinite=True, private=True))
    p = Process(pid=10, ppid=1, state="S", role=Role.MAIN, threads=(main,), hooks=True)
    return Snapshot(root_pid=10, processes=(dataclasses.replace(p, **proc_changes),),
                    monotonic=NOW, signals=True, alarm_timers=None)


def _reasons(snap):
    return [m.text for m in diagnose(snap).movable]


def test_a_pending_alarm_is_a_waker():
    snap = _stuck_root(timers=(Timer(ALRM, "alarm", expires=NOW + 3, site="x.py:4"),))
    d = diagnose(snap)
    assert not d.deadlock
    assert any("SIGALRM in 3.0 s, set at x.py:4" in r for r in _reasons(snap))


def test_after_the_timer_fired_the_proof_may_proceed():
    fired = _stuck_root(timers=(Timer(ALRM, "alarm", expires=NOW - 2 * waitfor.TIMER_MARGIN),))
    assert diagnose(fired).deadlock
    # a repeating timer keeps firing
    repeating = _stuck_root(timers=(Timer(ALRM, "alarm", expires=NOW - 5, interval=1.0),))
    assert not diagnose(repeating).deadlock


def test_an_ignored_signal_or_a_cpu_time_timer_wakes_nothing():
    ignored = _stuck_root(timers=(Timer(ALRM, "alarm", expires=NOW + 3),),
                          sig_ignored=1 << (ALRM - 1))
    assert diagnose(ignored).deadlock
    cpu = _stuck_root(timers=(Timer(int(signal.SIGPROF), "posix", cpu=True),))
    assert diagnose(cpu).deadlock


def test_a_watchdogs_timer_fails_the_code_rather_than_waking_it():
    snap = _stuck_root(timers=(Timer(ALRM, "alarm", expires=NOW + 30, watchdog=True),))
    assert diagnose(snap).deadlock


def test_timer_create_timers_count_unless_none_is_armed_on_the_machine():
    snap = _stuck_root(timers=(Timer(int(signal.SIGUSR1), "posix"),))
    assert not diagnose(snap).deadlock
    assert diagnose(dataclasses.replace(snap, posix_armed=0)).deadlock


def test_without_hooks_a_hidden_alarm_cannot_be_ruled_out():
    snap = _stuck_root(hooks=False)
    d = diagnose(snap)
    assert not d.deadlock
    assert any(waitfor.HIDDEN_TIMER in r and "SIGALRM's default action" in r
               for r in _reasons(snap))
    # the report still says what the proof would be, as a warning
    [f] = d.findings
    assert f.severity.value == "warning" and f.data["proven"] is False
    assert f.summary.startswith("likely: ") and "mpdoctor check" in " ".join(f.evidence)
    caught = _stuck_root(hooks=False, sig_caught=1 << (ALRM - 1))
    assert any("it catches SIGALRM" in r for r in _reasons(caught))
    # SIGALRM ignored: no alarm can reach it
    assert diagnose(_stuck_root(hooks=False, sig_ignored=1 << (ALRM - 1))).deadlock


def test_the_machines_timer_list_settles_hidden_alarms():
    none_armed = dataclasses.replace(_stuck_root(hooks=False), alarm_timers=())
    assert diagnose(none_armed).deadlock
    someone_elses = dataclasses.replace(_stuck_root(hooks=False), alarm_timers=(NOW + 7,))
    assert not diagnose(someone_elses).deadlock
    # an armed timer that a hooked process of the tree reported is accounted for
    hooked = Process(pid=11, ppid=10, state="S", hooks=True,
                     timers=(Timer(ALRM, "alarm", expires=NOW + 7.01),),
                     threads=(Thread(tid=11, state="R", wait=Wait(WaitKind.RUNNING)),))
    accounted = dataclasses.replace(someone_elses,
                                    processes=someone_elses.processes + (hooked,))
    assert waitfor.unaccounted_alarms(accounted) == 0


def test_old_snapshots_without_signal_facts_keep_their_meaning():
    old = dataclasses.replace(_stuck_root(hooks=None), signals=False)
    assert diagnose(old).deadlock


def test_hook_events_give_each_process_its_timer():
    events = [Event("hello", 10, 1.0, {"remaining": 0.0, "interval": 0.0, "mono": 900.0}),
              Event("timer", 10, 2.0, {"which": "real", "remaining": 4.0, "interval": 0.0,
                                       "mono": 901.0, "site": "x.py:9"}),
              Event("hello", 11, 1.0, {"remaining": 2.5, "interval": 0.0, "mono": 900.0}),
              Event("timer", 12, 1.0, {"which": "real", "remaining": 9.0, "mono": 900.0}),
              Event("hello", 13, 1.0, {"remaining": 1.0, "mono": 900.0}),
              Event("timer", 13, 2.0, {"which": "real", "remaining": 0.0, "mono": 901.0})]
    facts = timers.hook_facts(events)
    assert facts[10] == (Timer(ALRM, "alarm", expires=905.0, site="x.py:9"),)
    assert facts[11] == (Timer(ALRM, "alarm", expires=902.5),)
    assert 12 not in facts  # no hello: its hooks are not known to run, nor its other timers
    assert facts[13] == ()  # cancelled


def test_timer_parsers():
    text = ("ID: 1\nsignal: 10/0000000000000000\nnotify: signal/pid.17864\nClockID: 0\n"
            "ID: 0\nsignal: 14/0000000000000000\nnotify: thread/tid.17870\nClockID: 2\n")
    assert procfs.parse_posix_timers(text) == [
        procfs.PosixTimer(10, "signal", 17864, 0), procfs.PosixTimer(14, "thread", 17870, 2)]
    listing = ("Timer List Version: v0.10\nHRTIMER_MAX_CLOCK_BASES: 8\nnow at 6 nsecs\n\n"
               "cpu: 0\n clock 0:\n  .base:       00\n  .index:      0\n"
               "  .offset:     0 nsecs\nactive timers:\n"
               " #0: <00000000f6cb720a>, tick_nohz_handler, S:01\n"
               " # expires at 617744000000-617744000000 nsecs [in 2 to 2 nsecs]\n"
               " #1: <000000008351b395>, it_real_fn, S:01\n"
               " # expires at 907953961712-907953961712 nsecs [in 2 to 2 nsecs]\n"
               " #2: <000000003e3e2d0a>, posix_timer_fn, S:01\n"
               " # expires at 1507387906308-1507387906308 nsecs [in 8 to 8 nsecs]\n"
               " clock 1:\n  .offset:     5000000000 nsecs\nactive timers:\n"
               " #0: <000000008351b396>, it_real_fn, S:01\n"
               " # expires at 15000000000-15000000000 nsecs [in 2 to 2 nsecs]\n")
    assert procfs.parse_timer_list(listing) == ((907.953961712, 10.0), 1)
    assert procfs.parse_timer_list("") is None  # a masked (empty) file says nothing
    assert procfs.parse_signal_masks("Name:\tx\nSigIgn:\t0000000001001000\n"
                                     "SigCgt:\t0000000000000002\n") == (2, 0x1001000)
