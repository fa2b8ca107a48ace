"""mpdoctor's own machinery under unusual set-ups: outputs that cannot be written, a closed
stderr, odd script names, a flood of identical findings, and threads that cannot be started."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import DEADLOCK, PROGRAMS, REPRO, ROOT, USAGE, kill_session, run_check

SEED = str(REPRO / "join_before_drain" / "seed_hang.py")


def _mpdoctor(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "mpdoctor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("option", ["--json", "--report", "--save-snapshot", "--html"])
def test_an_output_path_that_cannot_be_written_is_refused_before_the_start(option, tmp_path):
    marker = tmp_path / "started"
    script = tmp_path / "s.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    for bad in (str(tmp_path), str(tmp_path / "missing" / "r.json"), ""):
        r = _mpdoctor("check", option, bad, str(script))
        assert r.returncode == USAGE, (bad, r.stderr)
        assert option in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists()  # nothing was started


def test_an_empty_timeout_is_a_bad_value(tmp_path):
    r = _mpdoctor("check", "--timeout", "", str(PROGRAMS / "output.py"))
    assert r.returncode == USAGE and "timeout ''" in r.stderr


def test_a_script_whose_name_starts_with_a_dash(tmp_path):
    (tmp_path / "-x.py").write_text("print('ran -x.py')\n")
    r = subprocess.run([sys.executable, "-m", "mpdoctor", "check", "--", "-x.py"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ran -x.py\n"


@pytest.mark.e2e
def test_outputs_on_a_full_device_lose_neither_the_verdict_nor_the_others(tmp_path):
    """/dev/full accepts the open and fails every write (ENOSPC): the JSON elsewhere is
    written, the human report falls back to stderr and says what failed, the status stays."""
    good = tmp_path / "good.html"
    proc = subprocess.Popen([sys.executable, "-m", "mpdoctor", "check", "--json", "/dev/full",
                             "--report", "/dev/full", "--html", str(good), SEED, "20000"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        err = proc.communicate(timeout=120)[1]
    finally:
        kill_session(proc.pid)
    assert proc.returncode == DEADLOCK
    assert "DEADLOCK proven" in err and "[join-before-drain]" in err
    assert "could not write --json '/dev/full'" in err
    assert "could not write --report '/dev/full'" in err
    assert good.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.e2e
@pytest.mark.parametrize("script,status", [("exit3", 3), ("seed", DEADLOCK)])
def test_a_closed_stderr_keeps_the_exit_status(script, status, tmp_path):
    report = tmp_path / "r.json"
    target = [SEED, "20000"] if script == "seed" else [str(tmp_path / "e.py")]
    (tmp_path / "e.py").write_text("import sys\nprint('out')\nsys.exit(3)\n")
    proc = subprocess.Popen(
        ["/bin/sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "mpdoctor", "check",
         "--json", str(report), *target],
        cwd=ROOT, stdout=subprocess.PIPE, start_new_session=True)
    try:
        out = proc.communicate(timeout=120)[0]
    finally:
        kill_session(proc.pid)
    assert proc.returncode == status
    assert json.loads(report.read_text())["exit_code"] == status
    if script == "exit3":
        assert out == b"out\n"


@pytest.mark.e2e
def test_three_hundred_processes_stuck_alike_give_one_short_finding(tmp_path):
    report = tmp_path / "report.txt"
    # a bounded watch: if the proof is not reached, the report says why (never a silent hang)
    run = run_check("--timeout", "120", str(PROGRAMS / "many_waiters.py"), "300",
                    tmp_path=tmp_path, extra=["--report", str(report)], timeout=240)
    assert run.rc == DEADLOCK, (run.stderr[-3000:], report.read_text()[-3000:]
                                if report.exists() else "")
    [f] = run.report["findings"]
    assert f["slug"] == "never-signalled"
    assert f["data"]["count"] >= 299
    assert len(f["pids"]) == 301  # every process, with the parent
    text = report.read_text()
    assert len(text) < 20_000, len(text)  # the human report stays short
    assert "more processes the same way" in text


def test_no_thread_to_spare_makes_the_dumps_sequential(monkeypatch):
    """A process limit (ulimit -u) can forbid new threads: the stacks are taken one at a
    time instead of in parallel, and none is lost."""
    import threading

    from mpdoctor.observe import pyspy

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    seen = []

    def fake_dump(exe, pid, started, finished, timeout=0, with_locals=False):
        seen.append(pid)
        return pyspy.Dump(pid)

    monkeypatch.setattr(pyspy, "dump_one", fake_dump)
    dumps = pyspy.Dumper(exe="/bin/true").dump([1, 2, 3])
    assert sorted(dumps) == [1, 2, 3] and seen == [1, 2, 3]
