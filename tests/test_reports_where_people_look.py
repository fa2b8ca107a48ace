"""The status line on a terminal, silencing by slug, and --json - beside the script's own
stdout."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from conftest import (DEADLOCK, PROGRAMS, REPRO, ROOT, USAGE, kill_tagged,
                      run_check, tagged_env)

SEED = str(REPRO / "join_before_drain" / "seed_hang.py")
DROP = str(REPRO / "feeder_dropped_item" / "drop_and_exit.py")

#: the script: a line, then it waits (main thread blocked in a read) for a line on stdin, then
#: a last line without a newline and one with
WAITER = ("import sys\n"
          "sys.stdout.write('before\\n'); sys.stdout.flush()\n"
          "sys.stdin.readline()\n"
          "sys.stdout.write('after, '); sys.stdout.flush()\n"
          "sys.stdout.write('the end\\n'); sys.stdout.flush()\n")


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    out = b""
    while needle not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {needle!r}: {out[-2000:]!r}"
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


@pytest.mark.e2e
def test_the_status_line_on_a_terminal_leaves_the_script_output_untouched(tmp_path):
    script = tmp_path / "waiter.py"
    script.write_text(WAITER)
    tag = f"status-{os.getpid()}-{time.monotonic_ns()}"
    pid, master = pty.fork()
    if pid == 0:  # the child: mpdoctor on the pty, in a terminal of 24 rows
        try:
            os.chdir(ROOT)
            env = tagged_env(tag)
            env.update(TERM="xterm", COLUMNS="100", LINES="24")
            os.execve(sys.executable, [sys.executable, "-m", "mpdoctor", "check",
                                       "--report", str(tmp_path / "r.txt"), str(script)], env)
        finally:
            os._exit(127)
    try:
        import fcntl
        import struct
        import termios
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        deadline = time.monotonic() + 60
        seen = _read_until(master, b"no hang so far", deadline)  # handshake: it is drawn
        assert b"before" in seen
        os.write(master, b"go\n")
        rest = _read_until(master, b"the end", deadline)
        while True:  # the rest, up to the end of the run
            r, _, _ = select.select([master], [], [], 30)
            if not r:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        os.close(master)
        kill_tagged(tag)
    stream = seen + rest
    text = stream.decode("utf-8", "replace")
    assert "watching" in text and "main thread reads fd 0" in text
    # every drawing of the line is one block, cursor saved and restored around it
    blocks = re.findall(r"\x1b7.*?\x1b8", text, re.S)
    assert any("no hang so far" in b for b in blocks)
    assert text.rstrip().endswith("\x1b[r\x1b8") or "\x1b[r" in text  # region given back
    # without those blocks (and the line made for them), the script's bytes are all there is
    script_only = re.sub(r"\x1b7.*?\x1b8(\x1b\[1A)?", "", text, flags=re.S)
    script_only = script_only.replace("go\r\n", "", 1)  # the terminal's echo of the input
    assert script_only.replace("\r\n", "\n").strip("\n") == "before\n\nafter, the end"


@pytest.mark.e2e
def test_no_status_line_when_stderr_is_not_a_terminal(tmp_path):
    run = run_check(str(PROGRAMS / "child_sleeps.py"), "2", tmp_path=tmp_path)
    assert run.rc == 0
    assert "\x1b7" not in run.stderr and "no hang so far" not in run.stderr


@pytest.mark.e2e
def test_ignore_leaves_out_a_warning_and_strict_no_longer_fails(tmp_path):
    run = run_check("--strict", DROP, tmp_path=tmp_path)
    assert run.rc == 90 and run.slugs == ["feeder-dropped-item"]
    run = run_check("--strict", "--ignore", "feeder-dropped-item", DROP, tmp_path=tmp_path)
    assert run.rc == 0 and run.slugs == []
    assert any("left out as asked" in n for n in run.report["notes"])
    env = {**os.environ, "MPDOCTOR_IGNORE": "feeder-dropped-item,pool-terminated"}
    run = run_check("--strict", DROP, tmp_path=tmp_path, env=env)
    assert run.rc == 0 and run.slugs == []


@pytest.mark.e2e
def test_a_proven_deadlock_is_never_silenced(tmp_path):
    run = run_check("--ignore", "join-before-drain", SEED, "20000", tmp_path=tmp_path)
    assert run.rc == DEADLOCK and run.slugs == ["join-before-drain"]
    assert any("never silenced" in n for n in run.report["notes"])


def test_an_unknown_slug_to_ignore_is_bad_input(tmp_path):
    for args, where in ((["--ignore", "no-such-slug"], "--ignore"), ([], "MPDOCTOR_IGNORE")):
        env = {**os.environ, "MPDOCTOR_IGNORE": "no-such-slug"}
        r = subprocess.run([sys.executable, "-m", "mpdoctor", "check", *args,
                            str(PROGRAMS / "output.py")], cwd=ROOT, capture_output=True,
                           text=True, timeout=60, env=env)
        assert r.returncode == USAGE and f"(from {where})" in r.stderr
        assert "join-before-drain" in r.stderr  # the slugs are listed


@pytest.mark.e2e
def test_json_to_stdout_comes_last_on_a_line_of_its_own(tmp_path):
    script = tmp_path / "talks.py"
    script.write_text("import sys\nsys.stdout.write('a line\\nno newline at the end')\n")
    proc = subprocess.run([sys.executable, "-m", "mpdoctor", "check", "--json", "-",
                           str(script)], cwd=ROOT, capture_output=True, timeout=120,
                          start_new_session=True)
    assert proc.returncode == 0
    head, last = proc.stdout.rstrip(b"\n").rsplit(b"\n", 1)
    assert head == b"a line\nno newline at the end"  # the script's bytes, untouched
    assert json.loads(last)["verdict"] == "ok"
    # a script that writes nothing: stdout is one JSON document
    quiet = tmp_path / "quiet.py"
    quiet.write_text("pass\n")
    proc = subprocess.run([sys.executable, "-m", "mpdoctor", "check", "--json", "-",
                           str(quiet)], cwd=ROOT, capture_output=True, timeout=120)
    assert json.loads(proc.stdout)["exit_code"] == 0
