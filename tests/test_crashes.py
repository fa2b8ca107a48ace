"""What failed first when the script failed (diagnose/crashes.py), on events as the hooks send
them (each one checked against the event protocol); the e2e runs are the catalogue's cases
(repro/child_exception, process_killed, broken_process_pool) and the real-world corpus."""

from __future__ import annotations

from typing import List

from mpdoctor.diagnose import crashes, diagnose_crash
from mpdoctor.hooks import protocol
from mpdoctor.model import Event
from mpdoctor.run import engine

USER = "/home/u/pipeline.py"
REMOTE = '''Traceback (most recent call last):
  File "/usr/lib/python3.13/multiprocessing/pool.py", line 125, in worker
    result = (True, func(*args, **kwds))
  File "/usr/lib/python3.13/multiprocessing/pool.py", line 48, in mapstar
    return list(map(*args))
  File "/home/u/pipeline.py", line 17, in ratio
    return 1 / x
ZeroDivisionError: division by zero'''


def ev(kind: str, pid: int, at: float, **data) -> Event:
    return Event(kind, pid, at, protocol.check(kind, data))


def uncaught(pid: int, at: float, where: str, error: str, types: str, site=None, process=None,
             remote=None) -> Event:
    return ev(protocol.UNCAUGHT, pid, at, where=where, error=error, types=types, site=site,
              process=process, remote=remote)


def exited(parent: int, at: float, child: int, code: int) -> Event:
    return ev(protocol.CHILD_EXIT, parent, at, child=child, exitcode=code)


def slugs(events: List[Event]) -> List[str]:
    return [f.slug for f in diagnose_crash(events)]


def test_a_process_target_that_raised_is_named_with_its_line():
    events = [uncaught(11, 1.0, "target", "KeyError: 'amount'", "KeyError LookupError "
                       "Exception BaseException", f"{USER}:12", "summing-stage"),
              exited(10, 1.1, 11, 1)]
    [f] = diagnose_crash(events)
    assert f.slug == crashes.RAISED and f.data["site"] == f"{USER}:12"
    assert "child 11 (summing-stage) raised KeyError: 'amount'" in f.summary
    assert any("exit with status 1" in line for line in f.evidence)


def test_a_worker_error_re_raised_in_the_parent_names_the_workers_line():
    events = [uncaught(10, 2.0, "top", "ZeroDivisionError: division by zero",
                       "ZeroDivisionError ArithmeticError Exception BaseException",
                       f"{USER}:23", remote=REMOTE)]
    [f] = diagnose_crash(events)
    assert f.slug == crashes.RAISED
    assert f.data["worker_site"] == f"{USER}:17" and f.data["reraised_at"] == f"{USER}:23"
    assert f.summary.startswith("a worker process raised ZeroDivisionError: division by zero "
                                f"at {USER}:17")


def test_a_broken_pool_names_its_dead_worker_and_is_the_one_finding():
    events = [exited(10, 1.0, 12, -9),
              uncaught(10, 1.5, "top", "BrokenProcessPool: A process in the process pool was "
                       "terminated abruptly", "BrokenProcessPool BrokenExecutor RuntimeError "
                       "Exception BaseException", f"{USER}:25")]
    [f] = diagnose_crash(events)
    assert f.slug == crashes.BROKEN and f.data["workers"] == [
        {"pid": 12, "exitcode": -9, "parent": 10}]
    assert "SIGKILL" in f.summary and "out-of-memory" in f.summary


def test_a_subclass_of_broken_process_pool_counts_too():
    events = [uncaught(10, 1.5, "top", "TerminatedWorkerError: A worker process managed by the "
                       "executor was unexpectedly terminated", "TerminatedWorkerError "
                       "BrokenProcessPool _BPPException RuntimeError Exception BaseException",
                       f"{USER}:26")]
    assert slugs(events) == [crashes.BROKEN]


def test_a_child_killed_by_a_crash_signal_is_named_but_not_one_its_parent_terminated():
    events = [exited(10, 1.0, 11, -11)]
    [f] = diagnose_crash(events)
    assert f.slug == crashes.KILLED and f.data["signal"] == "SIGSEGV"
    # Process.terminate(), a Pool leaving its with block: SIGTERM is how programs stop children
    assert slugs([exited(10, 1.0, 11, -15), exited(10, 1.0, 12, -2)]) == []


def test_the_first_failure_comes_first():
    events = [exited(10, 5.0, 13, -11),
              uncaught(11, 1.0, "target", "ValueError: bad", "ValueError Exception "
                       "BaseException", f"{USER}:3")]
    assert slugs(events) == [crashes.RAISED, crashes.KILLED]


def test_a_script_that_fails_in_its_own_code_gets_no_finding():
    events = [uncaught(10, 1.0, "top", "ValueError: bad input", "ValueError Exception "
                       "BaseException", f"{USER}:3")]
    assert slugs(events) == []


def test_only_a_failed_run_gets_crash_findings():
    events = [uncaught(11, 1.0, "target", "KeyError: 'a'", "KeyError LookupError Exception "
                       "BaseException", f"{USER}:12")]
    assert engine.events_only(events) is None  # the script handled it and exited 0
    diagnosis = engine.events_only(events, failed=True)
    assert diagnosis is not None
    assert [f.slug for f in diagnosis.findings] == [crashes.RAISED]


def test_remote_frames_skip_the_python_installation():
    assert crashes.remote_frame(REMOTE) == f"{USER}:17"
    assert crashes.remote_frame("no frames here") is None
    assert crashes.remote_error(REMOTE) == "ZeroDivisionError: division by zero"
