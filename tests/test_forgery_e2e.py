"""Only the watched tree is heard, end to end: forged events sent to a run's event socket from
outside its tree (as the same user, and as another user) leave its report and exit status
exactly as they are without them, and mpdoctor ends on time; the zoo of invalid datagrams sent
from inside the tree is counted and harmless; a flood from inside keeps mpdoctor's memory
bounded and does not hold up the end of the run."""

from __future__ import annotations

import json
import os
import pwd
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import psutil
import pytest

from conftest import PROGRAMS, ROOT, kill_session, kill_tagged, run_check, tagged_env
from mpdoctor.hooks import boot
from mpdoctor.run import events

pytestmark = pytest.mark.e2e

HEALTHY = str(PROGRAMS / "pool_waits_for_line.py")
FORGER = str(PROGRAMS / "forger.py")
OTHER_USER = "mpdoctor-forger"


def read_line(fd: int, buf: bytes, timeout: float) -> Tuple[bytes, bytes]:
    """The next line from a pipe (a handshake), and what was read after it.  Unbuffered, so
    that select() and communicate() later see everything that is left."""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no handshake within {timeout} s: {buf!r}"
        chunk = os.read(fd, 4096)
        assert chunk, f"the process ended before its handshake: {buf!r}"
        buf += chunk
    line, _, rest = buf.partition(b"\n")
    return line + b"\n", rest


class Watched:
    """``mpdoctor check --strict --json PATH`` on the healthy program, paused at its "ready"."""

    def __init__(self, tmp_path: Path) -> None:
        self.report_path = tmp_path / f"report-{time.monotonic_ns()}.json"
        self.tag = f"{os.getpid()}-{time.monotonic_ns()}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mpdoctor", "check", "--strict", "--json",
             str(self.report_path), HEALTHY],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=tagged_env(self.tag))
        self._buf = b""
        self.stdout = [self._line(), self._line()]
        assert self.stdout[1] == b"ready\n", self.stdout

    def _line(self) -> bytes:
        assert self.proc.stdout is not None
        line, self._buf = read_line(self.proc.stdout.fileno(), self._buf, 120)
        return line

    def _script(self) -> Tuple[int, Dict[bytes, bytes]]:
        """The script's pid and environment: the process below mpdoctor that has the hooks'
        address (mpdoctor's own helpers, started before it was set, do not)."""
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                with open(f"/proc/{child.pid}/environ", "rb") as f:
                    env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
            except OSError:
                continue
            if events.ENV.encode() in env:
                return child.pid, env
        raise AssertionError("no process below mpdoctor has the hooks' address")

    @property
    def script_pid(self) -> int:
        return self._script()[0]

    @property
    def socket_path(self) -> str:
        return boot.decode(self._script()[1][events.ENV.encode()].decode())["addr"]

    def finish(self, timeout: float = 120) -> Tuple[int, bytes, str, dict, float]:
        """Let the script go on; (exit status, stdout, stderr, report, seconds to the end)."""
        t0 = time.monotonic()
        try:
            out, err = self.proc.communicate(b"go\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_session(self.proc.pid)
            kill_tagged(self.tag)
            self.proc.kill()
            self.proc.communicate()
            pytest.fail(f"mpdoctor did not end within {timeout} s of the script going on")
        took = time.monotonic() - t0
        left = kill_session(self.proc.pid) + kill_tagged(self.tag)
        assert not left, f"processes left running after mpdoctor exited: {left}"
        report = json.loads(self.report_path.read_text())
        return (self.proc.returncode, b"".join(self.stdout) + self._buf + out, err.decode(),
                report, took)

    def kill(self) -> None:
        kill_session(self.proc.pid)
        kill_tagged(self.tag)
        self.proc.kill()
        self.proc.communicate()


def comparable(report: dict) -> dict:
    """The report without what differs from run to run anyway (times, event accounting, and
    the note that says what was ignored)."""
    out = {k: v for k, v in report.items() if k not in ("duration", "proof_seconds", "events")}
    out["notes"] = [n for n in report["notes"] if "sent to mpdoctor and ignored" not in n]
    return out


@pytest.fixture(scope="module")
def unattacked(tmp_path_factory) -> Tuple[int, bytes, str, dict, float]:
    run = Watched(tmp_path_factory.mktemp("unattacked"))
    return run.finish()


class Forger:
    """forger.py outside the tree: it sends its forged events, says so, then floods the socket
    until the run has ended."""

    def __init__(self, path: str, claimed: int, user: Optional[str] = None) -> None:
        cmd = [sys.executable, FORGER, path, str(claimed)] + ([user] if user else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd="/")
        assert self.proc.stdout is not None
        line, self._rest = read_line(self.proc.stdout.fileno(), b"", 120)
        assert line == b"forged\n", line

    def result(self) -> Dict:
        try:
            out, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            pytest.fail("the forger did not notice the end of the run")
        assert self.proc.returncode == 0, err
        return json.loads(self._rest + out)


def test_the_unattacked_run_is_clean(unattacked):
    rc, out, err, report, _ = unattacked
    assert rc == 0 and err == ""
    assert report["verdict"] == "ok" and report["findings"] == [] and report["notes"] == []
    assert report["events"]["accepted"] > 0  # the hooks did report (hello, pool calls)
    assert set(report["events"]["rejected"].values()) == {0}


def test_forged_events_from_outside_the_tree_change_nothing(unattacked, tmp_path):
    run = Watched(tmp_path)
    try:
        forger = Forger(run.socket_path, claimed=run.script_pid)
    except BaseException:
        run.kill()
        raise
    rc, out, err, report, took = run.finish()  # (while the forger floods the socket)
    result = forger.result()
    assert result["refused"] is None and result["forged"] > 30  # the socket was reachable
    base_rc, base_out, _, base_report, base_took = unattacked
    assert rc == base_rc == 0  # with --strict: a forged finding would have made it 90
    assert out == base_out
    assert comparable(report) == comparable(base_report)
    counts = report["events"]
    assert result["forged"] <= counts["rejected"]["foreign"] <= result["sent"]
    assert counts["rejected"]["foreign"] == sum(counts["rejected"].values())
    assert "were sent to mpdoctor and ignored" in err and "outside the watched tree" in err
    # on time, although the forger kept the socket's queue full to the end
    assert took < base_took + 10.0


@pytest.fixture(scope="module")
def other_user():
    if os.geteuid() != 0:
        pytest.skip("sending as another user needs root (to create that user and become it)")
    try:
        pwd.getpwnam(OTHER_USER)
        created = False
    except KeyError:
        done = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                               "/usr/sbin/nologin", OTHER_USER], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"could not create a user to send as: {done.stderr.strip()}")
        created = True
    yield OTHER_USER
    if created:
        subprocess.run(["userdel", OTHER_USER], capture_output=True)


def test_another_user_cannot_even_reach_the_socket(unattacked, other_user, tmp_path):
    run = Watched(tmp_path)
    try:
        forger = Forger(run.socket_path, claimed=run.script_pid, user=other_user)
    except BaseException:
        run.kill()
        raise
    rc, out, err, report, took = run.finish()
    result = forger.result()
    assert result["sent"] == 0 and result["refused"].startswith("PermissionError")
    base_rc, base_out, base_err, base_report, base_took = unattacked
    assert (rc, out, err) == (base_rc, base_out, base_err)
    assert comparable(report) == comparable(base_report)
    assert set(report["events"]["rejected"].values()) == {0}
    assert took < base_took + 10.0


def test_the_zoo_from_inside_the_tree_is_counted_and_harmless(tmp_path):
    from zoo import ZOO

    run = run_check(str(PROGRAMS / "sends_zoo.py"), tmp_path=tmp_path)
    assert run.rc == 0, run.stderr  # the script's own status: mpdoctor did not fail (89)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    counts = run.report["events"]
    # every zoo datagram but the oversized one, and the one that passed file descriptors
    assert counts["rejected"]["invalid"] == len(ZOO) - 1 + 1
    assert counts["rejected"]["oversized"] == 1
    # the valid events with the nastiest values were kept and rendered
    assert sorted(run.slugs) == ["missing-main-guard", "unpicklable-payload"]
    assert "not following the event protocol" in run.stderr


def _flood(count: int, tmp_path: Path) -> Tuple[List[str], dict, float]:
    run = run_check(str(PROGRAMS / "floods.py"), str(count), tmp_path=tmp_path)
    assert run.rc == 0, run.stderr
    words = run.stdout.decode().split()
    return words, run.report, run.duration


def test_a_flood_from_inside_the_tree_keeps_memory_bounded_and_ends_on_time(tmp_path):
    count = 3000  # of about 60 KB each: 180 MB, more than five times the budget
    words, report, duration = _flood(count, tmp_path)
    base_words, base_report, base_duration = _flood(0, tmp_path)
    hwm, base_hwm = int(words[2]), int(base_words[2])
    flood_seconds = float(words[3])
    counts = report["events"]
    assert counts["received"] == count + 1  # (and the script's hello)
    assert counts["kept_bytes"] <= events.MAX_BYTES
    assert counts["rejected"]["over_budget"] == count + 1 - counts["accepted"]
    # what mpdoctor holds grows by the budget and the parsing of a datagram, not by the flood
    assert (hwm - base_hwm) * 1024 < events.MAX_BYTES * 2, (hwm, base_hwm)
    # once the script is done flooding, the end of the run is as quick as without a flood
    assert duration - flood_seconds < base_duration + 10.0
    assert report["findings"] == [] and report["verdict"] == "ok"
