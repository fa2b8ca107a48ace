"""The verdict can be believed and running under mpdoctor changes nothing: no deadlock through
a process that can still act (whatever its role) or that a timer will wake, hooks that behave
the same from any caller and after any fork, and the signal dispositions plain python would
inherit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from conftest import (DEADLOCK, PROGRAMS, ROOT, START_METHODS, kill_session, kill_tagged,
                      run_check, tagged_env)

pytestmark = pytest.mark.e2e

TIMERS = str(PROGRAMS / "timers.py")


def _plain(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True,
                          timeout=timeout, start_new_session=True)


def test_an_orphaned_forkserver_still_running_is_not_stuck(tmp_path):
    """A child's forkserver outlives it, runs its atexit handlers (3 s) while holding the
    child's output pipes, which the parent reads to the end: it runs, so nothing is stuck."""
    run = run_check(str(PROGRAMS / "orphan_forkserver" / "parent.py"), "3", tmp_path=tmp_path)
    assert run.rc == 0, run.stderr[-3000:]
    assert run.report["verdict"] == "ok" and run.report["findings"] == []
    assert b"child exited 0: 285" in run.stdout


@pytest.mark.parametrize("mode", ["handler", "setitimer", "posix", "child-alarm"])
def test_a_wait_a_timer_ends_is_not_a_deadlock(mode, start_method, tmp_path):
    plain = _plain(TIMERS, mode, start_method)
    run = run_check("--timeout", "30", TIMERS, mode, start_method, tmp_path=tmp_path)
    assert run.rc == plain.returncode == 0, run.stderr[-3000:]
    assert run.stdout == plain.stdout
    assert run.report["verdict"] == "ok" and run.report["findings"] == []


def test_once_the_timer_has_fired_the_deadlock_is_proven(tmp_path):
    run = run_check("--timeout", "30", TIMERS, "fired", "fork", tmp_path=tmp_path)
    assert run.rc == DEADLOCK, run.stderr[-3000:]
    assert run.report["duration"] >= 1.0  # not before the alarm went off
    assert b"alarm" in run.stdout


def test_attach_claims_no_deadlock_a_hidden_timer_may_end(tmp_path):
    """Without hooks mpdoctor cannot see alarm(): a process that catches SIGALRM is not
    called stuck; the report says what the proof would be, and why it is not one."""
    code = ("import multiprocessing, signal, sys\n"
            "signal.signal(signal.SIGALRM, lambda *a: None)\n"
            "signal.alarm(1000)  # armed, and no hooks to say so\n"
            "e = multiprocessing.get_context('fork').Event()\n"
            "p = multiprocessing.get_context('fork').Process(target=e.wait)\n"
            "p.start(); print('ready', flush=True); p.join()\n")
    tag = f"attach-{os.getpid()}-{id(tmp_path)}"
    target = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              start_new_session=True, env=tagged_env(tag))
    try:
        assert target.stdout.readline() == b"ready\n"
        report = tmp_path / "attach.json"
        r = subprocess.run([sys.executable, "-m", "mpdoctor", "attach", "--timeout", "3",
                            "--json", str(report), str(target.pid)], cwd=ROOT,
                           capture_output=True, timeout=120)
        import json
        data = json.loads(report.read_text())
        assert r.returncode == 87 and data["verdict"] == "timeout", r.stderr[-3000:]
        [f] = data["findings"]
        assert f["severity"] == "warning" and f["summary"].startswith("likely: ")
        assert f["data"]["proven"] is False and target.pid in f["data"]["unless_timers"]
        assert "catches SIGALRM" in r.stderr.decode()
    finally:
        target.kill()
        target.wait()
        kill_session(target.pid)
        kill_tagged(tag)


def test_the_hooks_survive_a_fork_while_another_thread_uses_them(tmp_path):
    run = run_check(str(PROGRAMS / "fork_while_hooks_busy.py"), "20", tmp_path=tmp_path)
    assert run.rc == 0, run.stderr[-3000:]
    assert run.stdout == b"20 of 20 children ended\n"


@pytest.mark.parametrize("method", START_METHODS)
def test_the_hooks_change_nothing_from_any_caller(method, tmp_path):
    """Every wrapped entry point called from a thread started on it, a signal handler,
    __del__, a weakref callback, atexit: same output, same status; sys.excepthook,
    threading.excepthook and Process attributes are what the user would see."""
    prog = str(PROGRAMS / "contexts.py")
    plain = _plain(prog, method)
    run = run_check(prog, method, tmp_path=tmp_path,
                    extra=["--report", str(tmp_path / "report.txt")])
    assert plain.returncode == 3
    assert run.rc == plain.returncode
    assert run.stdout == plain.stdout
    assert run.stderr == plain.stderr.decode("utf-8", "replace")
    assert b"at exit: from atexit" in run.stdout
    assert b"sys.excepthook is sys.__excepthook__: True" in run.stdout


@pytest.mark.parametrize("method", START_METHODS)
def test_the_hooks_leave_no_fd_open_in_a_process_that_only_says_hello(method, tmp_path):
    """A program that lists the fds of its processes (a test of what a child inherits) sees
    the same numbers and kinds as without mpdoctor: no socket of the hooks' stays open.  The
    one addition is the stacks-on-request file (hooks/faultstacks.py), close-on-exec and above
    the fds a program counts on."""
    import ast

    from mpdoctor.hooks import faultstacks

    def listed(out: bytes):
        lines = []
        for line in out.decode().splitlines():
            who, _, fds = line.partition(" ")
            ours = {fd: kind for fd, kind in ast.literal_eval(fds).items()
                    if fd >= faultstacks.HIGH_FD and kind.startswith(
                        "/memfd:" + faultstacks.PREFIX)}
            lines.append((who, {fd: kind for fd, kind in ast.literal_eval(fds).items()
                                if fd not in ours}, len(ours)))
        return lines

    prog = str(PROGRAMS / "open_fds.py")
    plain = subprocess.run([sys.executable, prog, method], cwd=ROOT, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120, start_new_session=True)
    run = run_check(prog, method, tmp_path=tmp_path)
    assert plain.returncode == 0, plain.stderr.decode()
    assert run.rc == 0, run.stderr[-3000:]
    watched, alone = listed(run.stdout), listed(plain.stdout)
    assert len(watched) == 3
    assert [(who, fds) for who, fds, _ in watched] == [(who, fds) for who, fds, _ in alone]
    assert [n for _, _, n in watched] == [1, 1, 1] and [n for _, _, n in alone] == [0, 0, 0]


SIGNALS = ("import signal, sys\n"
           "names = ('SIGINT', 'SIGHUP', 'SIGTERM', 'SIGQUIT', 'SIGUSR1')\n"
           "print({n: int(signal.getsignal(getattr(signal, n)) == signal.SIG_IGN) "
           "for n in names}, sorted(map(int, signal.pthread_sigmask(signal.SIG_BLOCK, ()))))\n"
           "print('ready', flush=True)\n"
           "sys.stdin.readline()\n"
           "print('still here', flush=True)\n")


def _ignore_hup_int_block_usr2() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})


def test_the_script_inherits_ignored_signals_and_the_mask(tmp_path):
    script = tmp_path / "signals.py"
    script.write_text(SIGNALS)
    plain = subprocess.run([sys.executable, str(script)], input=b"\n", capture_output=True,
                           preexec_fn=_ignore_hup_int_block_usr2, timeout=60)
    tag = f"sig-{os.getpid()}-{id(tmp_path)}"
    proc = subprocess.Popen([sys.executable, "-m", "mpdoctor", "check", str(script)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_ignore_hup_int_block_usr2,
                            env=tagged_env(tag), start_new_session=True)
    try:
        first = proc.stdout.readline()
        assert proc.stdout.readline() == b"ready\n"
        # as under nohup: a hang-up for mpdoctor changes nothing (the script ignores it too)
        os.kill(proc.pid, signal.SIGHUP)
        proc.stdin.write(b"\n")
        proc.stdin.close()
        rest = proc.stdout.read()
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_session(proc.pid)
        kill_tagged(tag)
    assert first + b"ready\n" + rest == plain.stdout
    assert b"'SIGHUP': 1" in first and b"'SIGINT': 1" in first and b"[12]" in first
