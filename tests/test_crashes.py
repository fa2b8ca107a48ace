"""What failed first when the script failed (diagnose/crashes.py), on events as the hooks send
them (each one checked against the event protocol); the e2e runs are the catalogue's cases
(repro/child_exception, process_killed, broken_process_pool) and the real-world corpus."""

from __future__ import annotations

from typing import List

import pytest

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
             remote=None, lib=None) -> Event:
    return ev(protocol.UNCAUGHT, pid, at, where=where, error=error, types=types, site=site,
              process=process, remote=remote, lib=lib)


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
    # its page and reproducer come from the registry
    assert f.docs == "docs/diagnoses/child-exception.md"
    assert f.repro == "repro/child_exception/fix_report_errors.py"
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


# -- failures with a name of their own --------------------------------------------------------

MANAGER_LIB = ("multiprocessing/managers.py:_callmethod multiprocessing/managers.py:_connect "
               "multiprocessing/connection.py:Client")


@pytest.mark.parametrize("error", [
    f"AttributeError: Can't get attribute 'resize' on <module '__mp_main__' from '{USER}'>",
    "AttributeError: module '__mp_main__' has no attribute 'resize'",  # 3.14 and later
])
def test_a_function_a_spawned_child_cannot_find_is_named_and_not_a_child_exception(error):
    events = [uncaught(11, 1.0, "top", error, "AttributeError Exception BaseException",
                       lib="multiprocessing/spawn.py:spawn_main multiprocessing/spawn.py:_main"),
              exited(10, 1.1, 11, 1)]
    [f] = diagnose_crash(events)
    assert f.slug == crashes.NOT_FOUND and f.pids == (11,)


def test_a_daemonic_pool_worker_starting_a_process_is_named_from_the_remote_traceback():
    remote = ('Traceback (most recent call last):\n  File "/home/u/job.py", line 12, in task\n'
              "    helper.start()\n  File \"/usr/lib/python3.13/multiprocessing/process.py\", "
              "line 118, in start\n    assert not _current_process._config.get('daemon'), \\\n"
              "AssertionError: daemonic processes are not allowed to have children")
    events = [uncaught(10, 2.0, "top", "AssertionError: daemonic processes are not allowed to "
                       "have children", "AssertionError Exception BaseException",
                       "/home/u/job.py:30", remote=remote, lib="multiprocessing/pool.py:map")]
    [f] = diagnose_crash(events)
    assert f.slug == crashes.DAEMONIC and f.data["site"] == "/home/u/job.py:12"


def test_pool_misuse_manager_death_and_unlinked_shared_memory_are_named():
    misuse = uncaught(10, 1.0, "top", "ValueError: Pool not running", "ValueError Exception "
                      "BaseException", f"{USER}:20",
                      lib="multiprocessing/pool.py:map multiprocessing/pool.py:_check_running")
    manager = uncaught(10, 1.0, "top", "ConnectionRefusedError: [Errno 111] Connection "
                       "refused", "ConnectionRefusedError ConnectionError OSError Exception "
                       "BaseException", f"{USER}:38", lib=MANAGER_LIB)
    shared = uncaught(12, 1.0, "target", "FileNotFoundError: [Errno 2] No such file or "
                      "directory: '/psm_1'", "FileNotFoundError OSError Exception "
                      "BaseException", f"{USER}:18", "Process-2",
                      lib="multiprocessing/process.py:run multiprocessing/shared_memory.py:"
                      "__init__")
    assert slugs([misuse]) == [crashes.MISUSE]
    assert slugs([manager]) == [crashes.MANAGER]
    # the child died of it: one finding, not a child-exception as well
    assert slugs([shared, exited(10, 1.1, 12, 1)]) == [crashes.SHARED]


def test_an_os_error_outside_the_manager_is_not_a_manager_death():
    other = uncaught(10, 1.0, "top", "FileNotFoundError: [Errno 2] x", "FileNotFoundError "
                     "OSError Exception BaseException", f"{USER}:3",
                     lib="multiprocessing/pool.py:map")
    assert slugs([other]) == []
