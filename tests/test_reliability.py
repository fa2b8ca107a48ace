"""No orphans, nothing lost, every bad input answered: the runner under crashes, signals,
detaching children, terminals and floods of output."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from conftest import (INTERNAL, PROGRAMS, ROOT, USAGE, kill_session, kill_tagged, run_check,
                      tagged_env, tagged_pids)

pytestmark = pytest.mark.e2e

LIFECYCLE = str(PROGRAMS / "lifecycle.py")


class Started:
    """``mpdoctor check`` started in a session of its own, with a tag in its environment so
    that everything it started can be found afterwards, even after setsid or re-parenting."""

    def __init__(self, *args: str, tmp_path, stdin=subprocess.DEVNULL):
        self.tag = f"{os.getpid()}-{time.monotonic_ns()}"
        self.report = tmp_path / f"{self.tag}.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mpdoctor", "check", "--json", str(self.report), *args],
            cwd=ROOT, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=tagged_env(self.tag))

    def ready(self) -> bytes:
        """Handshake: the script printed its 'ready' line."""
        line = self.proc.stdout.readline()
        assert line.startswith(b"ready"), (line, self.proc.stderr.read(2000)
                                           if self.proc.poll() is not None else b"")
        return line

    def finish(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.left = kill_session(self.proc.pid) + kill_tagged(self.tag)
            self.stderr = self.proc.stderr.read().decode("utf-8", "replace")
            self.proc.stdout.close()
            self.proc.stderr.close()

    @property
    def data(self) -> dict:
        return json.loads(self.report.read_text())


def _cleanup(s: Started) -> None:
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()
    kill_session(s.proc.pid)
    kill_tagged(s.tag)


# -- no orphans ---------------------------------------------------------------------------------

def test_crash_leaving_a_child_behind(tmp_path):
    run = run_check(LIFECYCLE, "crash-leaving-child", tmp_path=tmp_path)
    assert run.rc == 3  # the script's own status
    assert run.report["stopped"] >= 1
    assert any("still running" in n for n in run.report["notes"])  # said, and stopped


def test_double_forked_setsid_grandchild_is_stopped(tmp_path):
    run = run_check(LIFECYCLE, "double-fork", tmp_path=tmp_path)  # run_check checks the tag too
    assert run.rc == 0
    assert run.report["stopped"] >= 1


def test_sigint_reaches_the_script_first(tmp_path):
    s = Started(LIFECYCLE, "interruptible", tmp_path=tmp_path)
    try:
        s.ready()
        os.kill(s.proc.pid, signal.SIGINT)
        assert s.finish() == 130
        assert s.proc.stdout.closed
    finally:
        _cleanup(s)
    assert not s.left


def test_second_sigint_stops_the_tree(tmp_path):
    s = Started(LIFECYCLE, "ignores-sigint", tmp_path=tmp_path)
    try:
        s.ready()
        # signals of one kind coalesce until handled: keep interrupting (bounded) until
        # mpdoctor has counted two and stopped the tree
        deadline = time.monotonic() + 60
        while s.proc.poll() is None and time.monotonic() < deadline:
            os.kill(s.proc.pid, signal.SIGINT)
            try:
                s.proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
        assert s.finish() == 128 + signal.SIGINT
    finally:
        _cleanup(s)
    assert not s.left
    assert "interrupted twice" in " ".join(s.data["notes"])


def test_sigterm_is_forwarded_and_handled_by_the_script(tmp_path):
    s = Started(LIFECYCLE, "handles-sigterm", tmp_path=tmp_path)
    try:
        s.ready()
        os.kill(s.proc.pid, signal.SIGTERM)
        assert s.finish() == 0
    finally:
        _cleanup(s)
    assert not s.left


def test_sigterm_ignored_by_the_script_stops_the_tree_after_a_grace(tmp_path):
    s = Started(LIFECYCLE, "ignores-sigterm", tmp_path=tmp_path)
    try:
        s.ready()
        os.kill(s.proc.pid, signal.SIGTERM)
        assert s.finish() == 128 + signal.SIGTERM
    finally:
        _cleanup(s)
    assert not s.left


@pytest.mark.parametrize("mode", ["sleeps", "double-fork", "crash-leaving-child"])
def test_killing_mpdoctor_stops_the_whole_tree(mode, tmp_path):
    """SIGKILL to mpdoctor: its janitor sees mpdoctor's end of a pipe close and stops
    everything below it: the script, its children, and the grandchild that double-forked and
    called setsid (re-parented to the janitor, the tree's subreaper)."""
    s = Started(LIFECYCLE, mode, tmp_path=tmp_path)
    try:
        s.ready()
        tree = [p for p in tagged_pids(s.tag) if p != s.proc.pid]
        assert len(tree) >= 2  # the janitor and the script, at least
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in tree) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not [p for p in tree if _alive(p)]
        assert not tagged_pids(s.tag)
    finally:
        _cleanup(s)


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


# -- nothing lost ------------------------------------------------------------------------------

def test_a_flood_of_output_passes_through_byte_exact(tmp_path):
    size = 256 << 20
    s = Started(LIFECYCLE, "flood", str(size), tmp_path=tmp_path)
    try:
        digest = hashlib.sha256()
        total = 0
        while True:
            chunk = s.proc.stdout.read(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
            total += len(chunk)
        assert s.finish() == 0
    finally:
        _cleanup(s)
    block = bytes(range(256)) * 4096
    expected = hashlib.sha256()
    for _ in range(size // len(block)):
        expected.update(block)
    assert total == size and digest.hexdigest() == expected.hexdigest()


def _pty_run(*args: str, tag: str):
    """mpdoctor on a terminal of its own (a pty), as a user would run it."""
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "mpdoctor", "check", *args],
                  tagged_env(tag))
    return pid, master


def _read_until(master: int, needle: bytes, timeout: float = 60) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} never came: {got[-500:]!r}"
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
    return got


def _pty_finish(pid: int, master: int, tag: str):
    try:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    finally:
        os.close(master)
        kill_tagged(tag)


# pty.fork() warns on 3.12+ when the test process has threads; the child execs at once
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_interactive_input_on_a_terminal():
    tag = f"pty-{time.monotonic_ns()}"
    pid, master = _pty_run(LIFECYCLE, "reads-input", tag=tag)
    try:
        _read_until(master, b"name? ")
        os.write(master, b"world\n")
        assert b"hello world" in _read_until(master, b"hello world")
    finally:
        assert _pty_finish(pid, master, tag) == 0


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_ctrl_c_on_a_terminal_goes_to_the_script_and_twice_stops_the_tree():
    tag = f"pty-{time.monotonic_ns()}"
    pid, master = _pty_run(LIFECYCLE, "interruptible", tag=tag)
    try:
        _read_until(master, b"ready")
        os.write(master, b"\x03")  # Ctrl-C: SIGINT to the terminal's foreground group
        _read_until(master, b"interrupted")
    finally:
        assert _pty_finish(pid, master, tag) == 130
    tag = f"pty-{time.monotonic_ns()}"
    pid, master = _pty_run(LIFECYCLE, "ignores-sigint", tag=tag)
    try:
        _read_until(master, b"ready")
        got = b""
        deadline = time.monotonic() + 60
        while b"interrupted twice" not in got and time.monotonic() < deadline:
            os.write(master, b"\x03")  # one Ctrl-C at a time until mpdoctor has seen two
            pause = time.monotonic() + 0.3
            while time.monotonic() < pause and b"interrupted twice" not in got:
                ready, _, _ = select.select([master], [], [], max(0.0, pause - time.monotonic()))
                if ready:
                    try:
                        got += os.read(master, 4096)
                    except OSError:
                        pause = 0.0
        assert b"interrupted twice" in got
    finally:
        assert _pty_finish(pid, master, tag) == 128 + signal.SIGINT
    assert not tagged_pids(tag)


# -- bad input ----------------------------------------------------------------------------------

def _mpdoctor(*args: str, env=None):
    return subprocess.run([sys.executable, "-m", "mpdoctor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)


def test_missing_module():
    r = _mpdoctor("check", "-m", "no_such_module_anywhere.sub")
    assert r.returncode == USAGE and "no module 'no_such_module_anywhere'" in r.stderr
    assert "Traceback" not in r.stderr


def test_without_py_spy_the_diagnosis_degrades_and_says_so(tmp_path):
    """Without py-spy and without hooks (nothing inside the processes either) the proof still
    holds, with no file:line; with the hooks, the stacks come from inside the processes."""
    env = dict(os.environ, MPDOCTOR_PYSPY="")
    seed = str(ROOT / "repro" / "join_before_drain" / "seed_hang.py")
    run = run_check(seed, "20000", tmp_path=tmp_path, env=env,
                    extra=["--no-hooks", "--timeout", "10"])
    [f] = run.report["findings"]
    assert f["slug"] == "join-before-drain" and f["data"]["joiner"]["site"] is None
    # without hooks an alarm() timer is invisible: proven only if the machine's timer list
    # shows that no process can have one; otherwise the same finding, as likely
    assert (run.rc, f["severity"]) in ((86, "error"), (87, "warning")), run.stderr
    assert any("py-spy was not found" in n for n in run.report["notes"])
    run = run_check(seed, "20000", tmp_path=tmp_path, env=env)
    assert run.rc == 86
    assert run.report["findings"][0]["data"]["joiner"]["site"] == f"{seed}:30"
    root = next(p for p in run.report["processes"] if p["role"] == "main")
    assert root["stack_source"] == "faulthandler"
    assert root["stack_error"] == "py-spy is not installed"


def test_not_linux_is_said_clearly(monkeypatch, capsys):
    from mpdoctor import cli
    monkeypatch.setattr(cli.sys, "platform", "darwin")
    assert cli.main(["check", str(PROGRAMS / "output.py")]) == INTERNAL
    err = capsys.readouterr().err
    assert "needs Linux" in err and "Traceback" not in err


def test_unreadable_threads_count_as_live_and_the_report_says_why(monkeypatch):
    """ptrace refused: what /proc still shows is used, nothing is proven through the threads
    that cannot be read, and the note gives the fix."""
    from mpdoctor.diagnose import diagnose
    from mpdoctor.observe import procfs
    from mpdoctor.observe.snapshot import Snapshotter
    from mpdoctor.observe.tree import TreeReader
    child = subprocess.Popen([sys.executable, "-c", "import os; os.read(0, 1)"],
                             stdin=subprocess.PIPE)
    try:
        monkeypatch.setattr(procfs, "syscall_line", lambda pid, tid: None)
        reader = TreeReader(lambda: [child.pid])
        snap = Snapshotter(child.pid, reader).take(reader.read(), reader.read())
        assert not diagnose(snap).deadlock
        assert any("ptrace_scope" in n and "SYS_PTRACE" in n for n in snap.notes)
    finally:
        child.kill()
        child.wait()
        child.stdin.close()


def test_another_interpreter_without_mpdoctor_is_watched_without_hooks(tmp_path):
    """--python of an environment where mpdoctor is not installed: the proof still works from
    /proc and py-spy, and the report says what the missing hooks would have added."""
    import venv
    venv.EnvBuilder(with_pip=False).create(tmp_path / "bare")
    bare = str(tmp_path / "bare" / "bin" / "python")
    seed = str(ROOT / "repro" / "join_before_drain" / "seed_hang.py")
    run = run_check("--timeout", "10", "--python", bare, seed, "20000", tmp_path=tmp_path)
    [f] = run.report["findings"]
    assert f["slug"] == "join-before-drain"
    assert any("not installed for" in n for n in run.report["notes"])
    # without hooks an alarm() timer is invisible: unless the machine's timer list rules one
    # out (root, and no alarm armed anywhere), the deadlock is reported as likely, not proven
    if run.rc == 87:
        assert f["severity"] == "warning" and f["data"]["proven"] is False, run.stderr
        assert "alarm timer mpdoctor cannot see" in run.stderr
    else:
        assert run.rc == 86 and f["severity"] == "error", run.stderr
