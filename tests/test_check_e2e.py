"""End to end: real programs, real hangs, under ``mpdoctor check``."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import signal
import subprocess
import sys

import pytest

from conftest import DEADLOCK, PROGRAMS, REPRO, ROOT, TIMEOUT, kill_session, run_check
from mpdoctor.diagnose import diagnose
from mpdoctor.observe.snapshot import load_file

pytestmark = pytest.mark.e2e

SEED = str(REPRO / "join_before_drain" / "seed_hang.py")
FIX = str(REPRO / "join_before_drain" / "fix_drain_first.py")


def test_seed_hang_is_proven_join_before_drain(start_method, tmp_path):
    run = run_check(SEED, "20000", start_method, tmp_path=tmp_path)
    assert run.rc == DEADLOCK, run.stderr
    report = run.report
    assert report["verdict"] == "deadlock"
    assert report["exit_code"] == DEADLOCK
    finding = report["findings"][0]
    assert finding["slug"] == "join-before-drain"
    data = finding["data"]
    # the join line of the script, from the parent's Python stack
    assert data["joiner"]["site"] == f"{SEED}:30"
    # the pipe really is full from the writer's point of view, and nobody can read it
    assert data["pipe"]["pending"] > 0
    assert data["pipe"]["capacity"] >= data["pipe"]["pending"]
    assert data["joiner"]["pid"] in data["pipe"]["readers"]
    writer = data["blocked_writers"][0]
    assert writer["feeder"] is True and writer["bytes_to_write"] > 0
    assert len(data["stuck_children"]) >= 1
    # the human report names the join line, the pipe and the fix
    assert "join-before-drain" in run.stderr
    assert "seed_hang.py:30" in run.stderr
    assert f"pipe:[{data['pipe']['inode']}]" in run.stderr
    assert "fix_drain_first.py" in run.stderr
    # the chain is a closed cycle through the parent's main thread
    chain = report["chain"]
    assert chain[0]["pid"] == chain[-1]["pid"] == data["joiner"]["pid"]


def test_seed_small_payload_is_ok(start_method, tmp_path):
    run = run_check(SEED, "2000", start_method, tmp_path=tmp_path)
    assert run.rc == 0, run.stderr
    assert run.report["verdict"] == "ok"
    assert run.report["findings"] == []
    assert run.stdout == b"received 10 items of 4000 characters each\n"
    assert run.stderr == ""  # a clean run adds nothing to the script's output


def test_drain_first_fix_is_ok(tmp_path):
    run = run_check(FIX, "20000", tmp_path=tmp_path)
    assert run.rc == 0, run.stderr
    assert run.report["verdict"] == "ok"


@pytest.mark.parametrize("program,args", [
    ("child_sleeps.py", ["3"]),
    ("slow_pool.py", []),
    ("get_timeout_loop.py", ["2"]),
])
def test_not_a_deadlock_ends_with_its_own_status(program, args, tmp_path):
    run = run_check(str(PROGRAMS / program), *args, tmp_path=tmp_path)
    assert run.report["verdict"] == "ok", run.stderr
    assert run.rc == 0


@pytest.mark.parametrize("program,args", [
    ("child_sleeps.py", ["8"]),
    ("get_timeout_loop.py", ["8"]),
])
def test_not_a_deadlock_times_out_instead(program, args, tmp_path):
    run = run_check("--timeout", "2", str(PROGRAMS / program), *args, tmp_path=tmp_path)
    assert run.rc == TIMEOUT, run.stderr
    assert run.report["verdict"] == "timeout"
    assert "no deadlock was proven" in run.stderr


def test_child_sleeping_8s_is_ok_without_timeout(tmp_path):
    run = run_check(str(PROGRAMS / "child_sleeps.py"), "8", tmp_path=tmp_path)
    assert run.rc == 0, run.stderr
    assert run.report["verdict"] == "ok"
    assert run.stdout == b"done\n"


def test_waiting_on_stdin_is_not_a_deadlock(tmp_path):
    """stdin is a pipe from this test that stays open and silent: outside input, never a
    deadlock.  mpdoctor keeps watching until its --timeout."""
    report = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "mpdoctor", "check", "--timeout", "2",
                             "--json", str(report), str(PROGRAMS / "stdin_wait.py")],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout.readline() == b"ready\n"  # handshake: the script waits on stdin now
        rc = proc.wait(timeout=60)  # stdin stays open until mpdoctor has ended
        err = proc.stderr.read().decode()
    finally:
        proc.stdin.close()
        left = kill_session(proc.pid)
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert not left
    assert rc == TIMEOUT, err
    assert json.loads(report.read_text())["verdict"] == "timeout"


def test_stdin_passes_through(tmp_path):
    run = run_check(str(PROGRAMS / "stdin_wait.py"), tmp_path=tmp_path, stdin=b"hello\n")
    assert run.rc == 0, run.stderr
    assert run.stdout == b"ready\nchild got hello\n"


def test_output_and_status_pass_through_unchanged(tmp_path):
    run = run_check(str(PROGRAMS / "output.py"), "3", tmp_path=tmp_path)
    assert run.rc == 3
    assert run.stdout == bytes(range(256)) * 4 + b"no newline at the end"
    assert run.stderr.startswith("err\x00\ufffd partial")  # the script's bytes come first
    assert run.report["verdict"] == "failed"
    assert run.report["script"]["status"] == 3


def test_death_by_signal_is_reported(tmp_path):
    run = run_check(str(PROGRAMS / "output.py"), "SIGSEGV", tmp_path=tmp_path)
    assert run.rc == 128 + 11
    assert run.report["script"]["signal"] == "SIGSEGV"
    assert "killed by SIGSEGV" in run.stderr


def test_module_mode(tmp_path):
    run = run_check("-m", "json.tool", "--sort-keys", tmp_path=tmp_path, stdin=b'{"b": 1, "a": 2}')
    assert run.rc == 0, run.stderr
    assert run.stdout.split() == [b"{", b'"a":', b"2,", b'"b":', b"1", b"}"]


def test_get_on_empty_queue_in_the_main_thread(tmp_path):
    run = run_check(str(PROGRAMS / "empty_get.py"), tmp_path=tmp_path)
    assert run.rc == DEADLOCK, run.stderr
    assert run.slugs == ["get-without-producer"]
    assert run.stdout == b"waiting\n"


def _no_alarm() -> None:
    # SIGALRM ignored (and inherited so by the children): no alarm timer mpdoctor cannot see
    # without its hooks can end a wait, so attach may prove the deadlock (see the next test)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)


def test_attach_diagnoses_a_tree_it_did_not_start(tmp_path):
    seed = subprocess.Popen([sys.executable, SEED, "20000"], stdout=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_no_alarm)
    try:
        report = tmp_path / "attach.json"
        snapshot = tmp_path / "attach-snapshot.json"
        # no handshake is possible with a hang: attach watches until the proof holds
        r = subprocess.run([sys.executable, "-m", "mpdoctor", "attach", str(seed.pid),
                            "--timeout", "60", "--json", str(report),
                            "--save-snapshot", str(snapshot)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == DEADLOCK, r.stderr
        data = json.loads(report.read_text())
        assert data["verdict"] == "deadlock"
        assert data["findings"][0]["slug"] == "join-before-drain"
        assert any("hooks" in n for n in data["notes"])  # says what it could not see
        assert seed.poll() is None  # attach never stops anything
        # the same tree with SIGALRM's default action: an alarm() timer would end a process,
        # and nothing outside it can see one; unless the machine's timer list shows that no
        # timer is armed that could be its, no deadlock is claimed, only what it would be
        snap = load_file(str(snapshot))
        default = dataclasses.replace(snap, alarm_timers=None, processes=tuple(
            dataclasses.replace(p, sig_ignored=0) for p in snap.processes))
        d = diagnose(default)
        assert not d.deadlock
        assert [f.slug for f in d.findings] == ["join-before-drain"]
        assert d.findings[0].severity.value == "warning"
    finally:
        kill_session(seed.pid)
        seed.wait()
        seed.stdout.close()


def test_attach_refuses_what_it_cannot_diagnose(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        for pid, needle in ((str(sleeper.pid), "not a Python process"),
                            ("99999999", "there is no process"), ("abc", "not a process id")):
            r = subprocess.run([sys.executable, "-m", "mpdoctor", "attach", pid], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 88 and needle in r.stderr, r.stderr
            assert "Traceback" not in r.stderr
    finally:
        sleeper.kill()
        sleeper.wait()


def test_closed_stderr_pipe_keeps_the_exit_status_and_json(tmp_path):
    report = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "mpdoctor", "check", "--json", str(report),
                             SEED, "20000"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    proc.stderr.close()  # nobody reads the report
    try:
        assert proc.wait(timeout=120) == DEADLOCK
    finally:
        kill_session(proc.pid)
    assert json.loads(report.read_text())["verdict"] == "deadlock"


DEFAULT_METHOD = multiprocessing.get_start_method()


@pytest.mark.parametrize("case", ["seed", "pool-lambda", "no-main-guard"])
def test_default_start_method_cases_are_diagnosed_with_file_and_line(case, tmp_path):
    """With whatever start method the interpreter uses by default (forkserver from 3.14)."""
    if case == "seed":
        run = run_check(SEED, "20000", tmp_path=tmp_path)
        assert run.rc == DEADLOCK, run.stderr
        assert run.report["findings"][0]["data"]["joiner"]["site"] == f"{SEED}:30"
        return
    if case == "pool-lambda":
        script = str(PROGRAMS / "pool_lambda.py")
        run = run_check(script, tmp_path=tmp_path)
        assert run.rc == 1, run.stderr
        [f] = [f for f in run.report["findings"] if f["slug"] == "unpicklable-payload"]
        assert f["data"]["site"] == f"{script}:7"
        return
    script = str(PROGRAMS / "no_main_guard_default.py")
    run = run_check("--timeout", "4", script, tmp_path=tmp_path)
    if DEFAULT_METHOD == "fork":
        assert (run.rc, run.slugs) == (0, []), run.stderr
        return
    assert run.rc in (1, TIMEOUT), run.stderr
    [f] = [f for f in run.report["findings"] if f["slug"] == "missing-main-guard"]
    assert f["data"]["site"] == f"{script}:10"
