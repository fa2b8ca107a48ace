"""The in-process hooks, end to end: pickling errors named with their path and line, dropped
items, missing __main__ guards, and programs whose behaviour must not change at all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import DEADLOCK, PROGRAMS, REPRO, ROOT, START_METHODS, TIMEOUT, run_check

pytestmark = pytest.mark.e2e

UNPICKLABLE = str(PROGRAMS / "unpicklable.py")
LOCK = ".lock (_thread.lock)"

# operation -> (start methods, op reported, line of the send in unpicklable.py, path start)
OPERATIONS = {
    "process-start": (("spawn", "forkserver"), "Process start", 44, "args (builtins.tuple) [0]"),
    "pool-map": (("fork", "spawn", "forkserver"), "Pool.map task", 49,
                 "function (builtins.method)"),
    "pool-apply-async": (("fork", "spawn"), "Pool.apply_async task", 51,
                         "args (builtins.tuple) [0]"),
    "pool-imap": (("fork", "spawn"), "Pool.imap task", 53, "args (builtins.tuple) [0]"),
    "pool-starmap": (("fork", "spawn"), "Pool.starmap task", 55, "items (builtins.tuple) [0]"),
    "pool-result": (("fork", "spawn"), "Pool result", None, "result (builtins.list) [0]"),
    "simplequeue-put": (("fork", "spawn"), "SimpleQueue.put", 65, "item"),
    "connection-send": (("fork", "spawn"), "Connection.send", 68, "obj"),
    "manager-call": (("fork", "spawn"), "Manager proxy call", 72, "call (builtins.tuple)"),
    "executor-submit": (("fork", "spawn"), "ProcessPoolExecutor.submit", None, "call"),
}


@pytest.mark.parametrize("op,method", [
    (op, m) for op, (methods, *_) in OPERATIONS.items() for m in methods if m in START_METHODS])
def test_unpicklable_payload_names_path_and_line(op, method, tmp_path):
    _, reported, line, path_start = OPERATIONS[op]
    run = run_check(UNPICKLABLE, op, method, tmp_path=tmp_path)
    assert run.rc == 1, run.stderr  # the script's own failure passes through
    assert run.report["verdict"] == "failed"
    [f] = [f for f in run.report["findings"] if f["slug"] == "unpicklable-payload"]
    d = f["data"]
    assert d["op"] == reported
    assert d["path"].startswith(path_start) and d["path"].endswith(LOCK), d["path"]
    if line is not None:
        assert d["site"] == f"{UNPICKLABLE}:{line}"
    assert "lock" in d["why"]
    assert "[unpicklable-payload]" in run.stderr


def test_fork_does_not_pickle_the_process_target(tmp_path):
    run = run_check(UNPICKLABLE, "process-start", "fork", tmp_path=tmp_path)
    assert run.rc == 0 and run.report["findings"] == []


def test_dropped_item_and_the_get_that_waits_for_it_are_one_finding(start_method, tmp_path):
    script = REPRO / "feeder_dropped_item" / "drop_then_get.py"
    run = run_check(str(script), start_method, tmp_path=tmp_path)
    assert run.rc == DEADLOCK, run.stderr
    [f] = run.report["findings"]
    assert f["slug"] == "feeder-dropped-item" and f["severity"] == "error"
    assert f["data"]["site"] == f"{script}:16"
    assert f["data"]["path"].endswith(LOCK)
    assert f["data"]["reader"]["site"] == f"{script}:25"


def test_dropped_item_in_a_run_that_exits_0_is_a_warning(tmp_path):
    script = str(REPRO / "feeder_dropped_item" / "drop_and_exit.py")
    run = run_check(script, tmp_path=tmp_path)
    assert run.rc == 0, run.stderr
    [f] = run.report["findings"]
    assert f["slug"] == "feeder-dropped-item" and f["severity"] == "warning"
    assert f["data"]["site"] == f"{script}:15" and f["data"]["path"].endswith(LOCK)
    strict = run_check("--strict", script, tmp_path=tmp_path)
    assert strict.rc == 90


def test_missing_main_guard(tmp_path):
    script = REPRO / "missing_main_guard" / "no_main_guard.py"
    run = run_check("--timeout", "5", str(script), tmp_path=tmp_path)
    assert run.rc == TIMEOUT, run.stderr
    slugs = run.slugs
    assert "missing-main-guard" in slugs
    [f] = [f for f in run.report["findings"] if f["slug"] == "missing-main-guard"]
    assert f["data"]["site"] == f"{script}:12"


def test_put_sites_in_the_join_before_drain_report(tmp_path):
    seed = str(REPRO / "join_before_drain" / "seed_hang.py")
    run = run_check(seed, "20000", tmp_path=tmp_path)
    assert run.rc == DEADLOCK
    assert run.report["findings"][0]["data"]["put_sites"] == [f"{seed}:18"]


def test_no_hooks_option(tmp_path):
    run = run_check("--no-hooks", str(REPRO / "feeder_dropped_item" / "drop_and_exit.py"),
                    tmp_path=tmp_path)
    assert run.rc == 0 and run.report["findings"] == []


MODES = ["pool", "manager", "events", "shared_memory", "nested", "signals", "start_method",
         "executor", "child_fails"]


@pytest.mark.parametrize("mode", MODES)
def test_hooks_change_nothing_observable(mode, start_method, tmp_path):
    prog = str(PROGRAMS / "correct.py")
    plain = subprocess.run([sys.executable, prog, mode, start_method], cwd=ROOT,
                           capture_output=True, timeout=120, start_new_session=True)
    report = tmp_path / "report.txt"
    run = run_check(prog, mode, start_method, tmp_path=tmp_path, extra=["--report", str(report)])
    assert run.rc == plain.returncode
    assert run.stdout == plain.stdout
    assert run.stderr == plain.stderr.decode("utf-8", "replace")
    assert run.report["verdict"] in ("ok", "failed")
    if mode == "child_fails":  # the script fails because its child raised: that is said
        [f] = run.report["findings"]
        assert f["slug"] == "child-exception" and f["data"]["process"] == "Worker"
    else:
        assert run.report["findings"] == []


@pytest.mark.parametrize("method", [m for m in ("spawn", "forkserver") if m in START_METHODS])
def test_a_worker_that_cannot_unpickle_its_task_is_named_with_the_cause(method, tmp_path):
    """The function is defined under the __main__ guard: each worker dies unpickling its task
    (its stderr says so); the report says that, not native code or the OOM killer."""
    script = str(REPRO / "pool_worker_died" / "function_under_guard.py")
    run = run_check(script, method, tmp_path=tmp_path)
    assert run.rc == DEADLOCK, run.stderr
    [f] = [f for f in run.report["findings"] if f["slug"] == "pool-worker-died"]
    errors = f["data"]["unpickling_errors"]
    assert errors and all("square" in e["error"] for e in errors)
    assert "could not unpickle the task" in " ".join(f["evidence"])
    assert "OOM" not in f["fix"] and "module level" in f["fix"]
    assert f["data"]["caller"]["site"] == f"{script}:17"
