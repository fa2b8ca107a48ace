from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPRO = ROOT / "repro"
PROGRAMS = Path(__file__).parent / "programs"
FIXTURES = Path(__file__).parent / "fixtures"
# the real-world cases, read in place (never copied): next to the checkout, or where
# MPDOCTOR_CORPUS says (CI runs on a clone elsewhere)
CORPUS = Path(os.environ.get("MPDOCTOR_CORPUS") or ROOT.parent / "shared" / "corpus")

START_METHODS = [m for m in ("fork", "spawn", "forkserver")
                 if m in multiprocessing.get_all_start_methods()]

DEADLOCK, TIMEOUT, USAGE, INTERNAL = 86, 87, 88, 89


@pytest.fixture(autouse=True)
def _plain_output(monkeypatch):
    """Reports rendered in tests must not depend on the caller's terminal settings."""
    for name in ("NO_COLOR", "FORCE_COLOR", "MPDOCTOR_TIMEOUT", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=START_METHODS)
def start_method(request) -> str:
    return request.param


def pytest_sessionstart(session):
    """Fail fast, with the fix, when this machine does not let a parent inspect its children."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        line = None
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{child.pid}/syscall") as f:
                    line = f.read()
            except PermissionError:
                line = None
                break
            if line.split()[0].isdigit():
                break
            time.sleep(0.01)
    finally:
        child.kill()
        child.wait()
    if line is None:
        pytest.exit("cannot read /proc/PID/syscall of a child process: ptrace is not permitted "
                    "here (set kernel.yama.ptrace_scope to 0 or 1, or run the container with "
                    "--cap-add SYS_PTRACE)", returncode=1)


def session_pids(sid: int) -> List[int]:
    """Pids of every live process in session ``sid`` (zombies excluded)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                text = f.read()
        except OSError:
            continue
        rest = text[text.rindex(")") + 2:].split()
        if int(rest[3]) == sid and rest[0] not in ("Z", "X"):
            out.append(int(name))
    return out


def _kill(pids: List[int]) -> List[int]:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return pids


def kill_session(sid: int) -> List[int]:
    return _kill(session_pids(sid))


TAG = "MPDOCTOR_TEST_TAG"


def tagged_pids(tag: str) -> List[int]:
    """Live processes whose environment carries ``TAG=tag``: everything a run started, even
    what left its session (setsid) or was re-parented."""
    needle = f"{TAG}={tag}".encode()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{name}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X") and needle in env.split(b"\0"):
            out.append(int(name))
    return out


def kill_tagged(tag: str) -> List[int]:
    return _kill(tagged_pids(tag))


def outlived(tag: str, grace: float = 10.0) -> List[int]:
    """After a pytest session ended: the tagged processes still there once ``grace`` seconds
    have passed (killed, by pid).  A forkserver or a resource tracker ends by itself when the
    session's end closes its pipe, a moment after the session: that is not a leftover."""
    deadline = time.monotonic() + grace
    while tagged_pids(tag) and time.monotonic() < deadline:
        time.sleep(0.02)
    return kill_tagged(tag)


def tagged_env(tag: str, base: Optional[dict] = None) -> dict:
    env = dict(os.environ if base is None else base)
    env[TAG] = tag
    return env


@dataclass
class Run:
    rc: int
    stdout: bytes
    stderr: str
    report: Optional[dict]
    duration: float

    @property
    def slugs(self) -> List[str]:
        return [f["slug"] for f in (self.report or {}).get("findings", [])]


def run_check(*args: str, tmp_path: Path, timeout: float = 120, stdin: Optional[bytes] = None,
              json_report: bool = True, extra: Optional[List[str]] = None,
              env: Optional[dict] = None, command: Optional[List[str]] = None,
              cwd: Optional[Path] = None) -> Run:
    """Run ``mpdoctor check`` (or ``command``, e.g. an installed ``mpdoctor repro run``) in a
    session of its own, from ``cwd`` (default: the checkout); afterwards nothing of that
    session may remain (any leftover is killed by pid and fails the test)."""
    report_path = tmp_path / f"report-{time.monotonic_ns()}.json"
    cmd = [*(command or [sys.executable, "-m", "mpdoctor", "check"]), *(extra or [])]
    if json_report:
        cmd += ["--json", str(report_path)]
    cmd += list(args)
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd or ROOT, stdin=subprocess.PIPE if stdin is not None else
                            subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=tagged_env(tag, env))
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc.pid)
        kill_tagged(tag)
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"mpdoctor did not finish within {timeout} s: {err.decode()[-2000:]}")
    duration = time.monotonic() - t0
    left = kill_session(proc.pid) + kill_tagged(tag)
    assert not left, f"processes left running after mpdoctor exited: {left}"
    report = json.loads(report_path.read_text()) if json_report and report_path.exists() else None
    return Run(proc.returncode, out, err.decode("utf-8", "replace"), report, duration)


def load_fixture(name: str):
    from mpdoctor.observe.snapshot import load_file
    return load_file(str(FIXTURES / name))


@pytest.fixture(scope="session")
def wheel_install(tmp_path_factory) -> Path:
    """mpdoctor as users get it: ``pip install .`` (a wheel, not editable) into a fresh venv,
    built once per session.  Returns the venv; run it from a folder outside the checkout."""
    base = tmp_path_factory.mktemp("wheel")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", str(ROOT)], cwd=base,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        pytest.fail(f"pip install . failed: {r.stderr[-3000:]}")
    return venv
