"""Stacks from inside a process when py-spy cannot read it: faulthandler on a spare signal,
one thread at a time, read back through /proc/PID/fd; the program does not notice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import DEADLOCK, REPRO, run_check
from mpdoctor.observe import hookstacks, pyspy

CHILD = textwrap.dedent("""
    import os, signal, sys, threading
    from mpdoctor.hooks import faultstacks
    {before}
    faultstacks.install()
    lock = threading.Lock()
    lock.acquire()
    def blocked_on_the_lock():
        lock.acquire()
    def deep(n):
        if n:
            return deep(n - 1)
        print("ready", flush=True)
        return sys.stdin.readline()
    t = threading.Thread(target=blocked_on_the_lock, name="locker", daemon=True)
    t.start()
    sys.setrecursionlimit(10000)
    line = deep({depth})
    print("got " + line.strip(), flush=True)
    {after}
""")


def _start(tmp_path, before="", after="", depth=3):
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(before=before, after=after, depth=depth))
    child = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "ready\n"
    return child, script


def _finish(child):
    """The program goes on as if nothing happened: it reads its line and ends normally."""
    out, _ = child.communicate("hello\n", timeout=30)
    assert child.returncode == 0
    return out


def test_every_thread_stack_is_read_from_inside(tmp_path):
    child, script = _start(tmp_path)
    try:
        d = hookstacks.dump(child.pid)
        assert d is not None and d.source == "faulthandler"
        by_tid = {t.os_tid: t for t in d.threads}
        main = by_tid[child.pid]
        assert [f.function for f in main.frames[:5]] == ["deep"] * 4 + ["<module>"]
        assert main.frames[0].filename == str(script)
        others = [t for t in d.threads if t.os_tid != child.pid]
        assert any(t.frames and t.frames[0].function == "blocked_on_the_lock" for t in others)
    finally:
        assert _finish(child) == "got hello\n"


def test_very_deep_recursion_gives_the_innermost_frames(tmp_path):
    child, script = _start(tmp_path, depth=3000)
    try:
        d = hookstacks.dump(child.pid)
        main = next(t for t in d.threads if t.os_tid == child.pid)
        assert len(main.frames) >= 50 and all(f.function == "deep" for f in main.frames)
    finally:
        assert _finish(child) == "got hello\n"


def test_a_signal_the_program_handles_is_left_alone(tmp_path):
    before = ("got = []\n"
              "signal.signal(signal.SIGRTMAX, lambda *a: got.append(1))")
    after = ("os.kill(os.getpid(), signal.SIGRTMAX)\n"
             "print('handled', len(got), flush=True)")
    child, _ = _start(tmp_path, before=before, after=after)
    try:
        signum, _ = hookstacks.target(child.pid)
        assert signum != signal.SIGRTMAX
        assert hookstacks.dump(child.pid).threads
    finally:
        assert _finish(child) == "got hello\nhandled 1\n"


def test_a_forked_child_has_a_file_of_its_own(tmp_path):
    before = ("r, w = os.pipe()\n"
              "def forked():\n"
              "    pid = os.fork()\n"
              "    if pid == 0:\n"
              "        os.write(1, b'forked\\n')\n"  # after the at-fork handlers
              "        os.read(r, 1)\n"
              "        os._exit(0)\n"
              "    return pid\n")
    after = ""
    script = tmp_path / "child.py"
    code = CHILD.format(before=before, after=after, depth=1).replace(
        'print("ready", flush=True)',
        'os.write(1, b"%d\\n" % forked()); os.write(1, b"ready\\n")')
    script.write_text(code)
    child = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    lines = [child.stdout.readline() for _ in range(3)]
    grandchild = int(next(x for x in lines if x.strip().isdigit()))
    assert sorted(x for x in lines if not x.strip().isdigit()) == ["forked\n", "ready\n"]
    try:
        (_, fd_parent), (_, fd_child) = hookstacks.target(child.pid), hookstacks.target(grandchild)
        ino = [os.stat(f"/proc/{p}/fd/{fd}").st_ino
               for p, fd in ((child.pid, fd_parent), (grandchild, fd_child))]
        assert ino[0] != ino[1]
        d = hookstacks.dump(grandchild)
        main = next(t for t in d.threads if t.os_tid == grandchild)
        assert main.frames[0].function == "forked"  # where the child is, not the parent
    finally:
        os.kill(grandchild, signal.SIGKILL)
        assert _finish(child) == "got hello\n"


def test_a_process_without_the_hooks_is_never_signalled(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); "
                              "sys.stdin.readline()"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        assert hookstacks.target(child.pid) is None and hookstacks.dump(child.pid) is None
    finally:
        _finish(child)


FAKE_PYSPY = ("#!/bin/sh\n"
              "echo 'Error: Failed to find a python interpreter in the .data section' >&2\n"
              "exit 1\n")


@pytest.mark.e2e
def test_seed_diagnosed_with_stacks_from_faulthandler_when_py_spy_fails(tmp_path):
    fake = tmp_path / "py-spy"
    fake.write_text(FAKE_PYSPY)
    fake.chmod(0o755)
    seed = str(REPRO / "join_before_drain" / "seed_hang.py")
    run = run_check(seed, "20000", tmp_path=tmp_path,
                    env={**os.environ, "MPDOCTOR_PYSPY": str(fake)})
    assert run.rc == DEADLOCK, run.stderr
    finding = run.report["findings"][0]
    assert finding["slug"] == "join-before-drain"
    assert finding["data"]["joiner"]["site"] == f"{seed}:30"
    procs = [p for p in run.report["processes"] if p["state"] != "Z"]
    assert procs and all(p["stack_source"] == "faulthandler" for p in procs)
    assert all("Failed to find a python interpreter" in p["stack_error"] for p in procs)
    assert "Python stacks from faulthandler inside the process" in run.stderr
    assert "seed_hang.py:30" in run.stderr


def test_dumper_falls_back_only_when_py_spy_fails(tmp_path):
    fake = tmp_path / "py-spy"
    fake.write_text(FAKE_PYSPY)
    fake.chmod(0o755)
    child, script = _start(tmp_path)
    try:
        d = pyspy.Dumper(str(fake)).dump([child.pid])[child.pid]
        assert d.source == "faulthandler" and d.threads
        assert "Failed to find a python interpreter" in d.pyspy_error
    finally:
        _finish(child)
