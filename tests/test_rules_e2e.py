"""Every rule end to end, on its reproducer under repro/, under each start method where the
pattern exists there."""

from __future__ import annotations

import pytest

from conftest import DEADLOCK, REPRO, START_METHODS, TIMEOUT, run_check

pytestmark = pytest.mark.e2e

ALL = tuple(START_METHODS)
CASES = [
    # (script, start methods, slug)
    ("get_without_producer/producer_dies.py", ALL, "get-without-producer"),
    ("get_without_producer/recv_keeps_writer.py", ("fork",), "get-without-producer"),
    ("never_signalled/event_never_set.py", ALL, "never-signalled"),
    ("never_signalled/task_done_missing.py", ("fork",), "never-signalled"),
    ("put_without_consumer/consumer_dies.py", ("fork", "spawn"), "put-without-consumer"),
    ("fork_with_lock_held/fork_while_locked.py", ("fork",), "fork-with-lock-held"),
    ("exit_blocked_by_child/feeder_blocks_exit.py", ("fork", "forkserver"),
     "exit-blocked-by-child"),
    ("pipe_both_send/both_send.py", ALL, "pipe-both-send"),
    ("pool_worker_died/worker_exits.py", ALL, "pool-worker-died"),
    ("pool_result_handler_died/unpicklable_exception.py", ("fork", "spawn"),
     "pool-result-handler-died"),
]


@pytest.mark.parametrize("script,method,slug", [
    pytest.param(script, m, slug, id=f"{script.split('/')[1][:-3]}-{m}")
    for script, methods, slug in CASES for m in methods if m in START_METHODS])
def test_rule_on_its_reproducer(script, method, slug, tmp_path):
    run = run_check(str(REPRO / script), method, tmp_path=tmp_path)
    assert run.rc == DEADLOCK, run.stderr
    assert run.slugs == [slug], run.stderr
    assert f"[{slug}]" in run.stderr


FIXES = [
    "get_without_producer/fix_close_writer.py",
    "get_without_producer/fix_always_put.py",
    "never_signalled/fix_signal_always.py",
    "put_without_consumer/fix_consumer_survives.py",
    "fork_with_lock_held/fix_spawn.py",
    "exit_blocked_by_child/fix_stop_and_drain.py",
    "pipe_both_send/fix_alternate.py",
    "pool_worker_died/fix_process_pool_executor.py",
    "pool_result_handler_died/fix_picklable_exception.py",
]


@pytest.mark.parametrize("script", FIXES, ids=lambda s: s.split("/")[1][:-3])
def test_fix_runs_clean(script, tmp_path):
    run = run_check(str(REPRO / script), tmp_path=tmp_path)
    assert run.rc == 0, run.stderr
    assert run.report["verdict"] == "ok" and run.report["findings"] == []


def test_polling_child_blocking_exit_is_a_timeout_with_a_finding(tmp_path):
    run = run_check("--timeout", "3", str(REPRO / "exit_blocked_by_child" /
                                          "worker_never_told_to_stop.py"), tmp_path=tmp_path)
    assert run.rc == TIMEOUT, run.stderr
    assert run.slugs == ["exit-blocked-by-child"]
    assert run.report["findings"][0]["data"]["proven"] is False
