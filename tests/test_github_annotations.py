"""GitHub Actions annotations: one workflow command per finding at the user's line, escaped as
the runner decodes them, from the CLI (on stderr, the script's stdout untouched) and from the
pytest plugin (in the terminal summary, also under xdist)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from conftest import DEADLOCK, FIXTURES, REPRO, ROOT, load_fixture, outlived, run_check
from mpdoctor.diagnose import diagnose
from mpdoctor.model import Finding, Severity
from mpdoctor.report import github

pytest_plugins = ["pytester"]

GH = {"GITHUB_ACTIONS": "true"}

def _seed_line() -> str:
    """The annotation for the seed fixture (recorded in a checkout at /work/main), with its
    pids: the main process and the child it joins."""
    snap = load_fixture("seed_fork.json")
    child = next(p.pid for p in snap.processes if p.ppid == snap.root_pid)
    joined = snap.root.main_thread.wait.pid or child
    return ("::error file=repro/join_before_drain/seed_hang.py,line=30,"
            f"title=mpdoctor join-before-drain::main process {snap.root_pid} waits for child "
            f"{joined} to exit at /work/main/repro/join_before_drain/seed_hang.py:30, but the "
            "child cannot exit until the queue it writes to is drained, and the only reader is "
            "the waiting process itself")


SEED_LINE = _seed_line()


def _finding(site, severity=Severity.ERROR, summary="it hangs", slug="join-before-drain"):
    return Finding(slug=slug, severity=severity, summary=summary, data={"site": site})


def test_off_unless_github_actions_says_true():
    f = [_finding("/w/a.py:3")]
    assert github.lines(f, {}) == []
    assert github.lines(f, {"GITHUB_ACTIONS": "false"}) == []
    assert github.lines(f, {"GITHUB_ACTIONS": "1"}) == []
    assert github.lines(f, GH) == ["::error file=/w/a.py,line=3,title=mpdoctor "
                                   "join-before-drain::it hangs"]


def test_levels():
    assert github.annotation(_finding("a.py:1", Severity.WARNING)).startswith("::warning ")
    assert github.annotation(_finding("a.py:1", Severity.INFO)).startswith("::notice ")
    assert github.annotation(_finding("a.py:1", Severity.ERROR)).startswith("::error ")


def test_paths_relative_to_the_workspace_when_inside_it():
    env = dict(GH, GITHUB_WORKSPACE="/home/runner/work/app/app/")
    inside = _finding("/home/runner/work/app/app/src/job.py:12")
    beside = _finding("/home/runner/work/app/app2/job.py:12")
    outside = _finding("/usr/lib/python3.12/multiprocessing/queues.py:99")
    assert github.lines([inside, beside, outside], env) == [
        "::error file=src/job.py,line=12,title=mpdoctor join-before-drain::it hangs",
        "::error file=/home/runner/work/app/app2/job.py,line=12,title=mpdoctor "
        "join-before-drain::it hangs",
        "::error file=/usr/lib/python3.12/multiprocessing/queues.py,line=99,title=mpdoctor "
        "join-before-drain::it hangs"]


def test_no_site_no_file():
    for site in (None, "", "nowhere", "a.py:x", "a.py:0", ":12"):
        assert github.annotation(_finding(site)) == \
            "::error title=mpdoctor join-before-drain::it hangs"


def test_values_are_escaped_as_the_runner_decodes_them():
    f = _finding("/w/odd, name: 100%.py:7", summary="50% full\r\nnext: a, b")
    line = github.annotation(f)
    assert line == ("::error file=/w/odd%2C name%3A 100%25.py,line=7,"
                    "title=mpdoctor join-before-drain::50%25 full%0D%0Anext: a, b")
    assert "\n" not in line and "\r" not in line


def test_every_finding_says_where_in_the_users_code():
    """``data["site"]`` is part of every finding (null when the user's line is unknown)."""
    seen = set()
    for path in sorted(FIXTURES.glob("*.json")):
        for f in diagnose(load_fixture(path.name)).findings:
            assert "site" in f.data, (path.name, f.slug)
            seen.add(f.slug)
            site = f.data["site"]
            if site is not None:
                assert github.location(f) is not None, site
    assert len(seen) >= 9


def _diagnose(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mpdoctor", "diagnose",
                           str(FIXTURES / "seed_fork.json"), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, **(env or {})})


def test_cli_prints_one_annotation_per_finding_on_stderr():
    r = _diagnose(env=dict(GH, GITHUB_WORKSPACE="/work/main"))
    assert r.returncode == DEADLOCK
    assert r.stdout == ""
    annotations = [line for line in r.stderr.splitlines() if line.startswith("::")]
    assert annotations == [SEED_LINE]
    assert r.stderr.splitlines()[-1] == SEED_LINE  # after the report


def test_cli_without_github_actions_prints_none():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    r = subprocess.run([sys.executable, "-m", "mpdoctor", "diagnose",
                        str(FIXTURES / "seed_fork.json")], capture_output=True, text=True,
                       cwd=ROOT, timeout=120, env=env)
    assert r.returncode == DEADLOCK
    assert not [line for line in r.stderr.splitlines() if line.startswith("::")]


def test_json_on_stdout_stays_json():
    r = _diagnose("--json", "-", env=GH)
    assert json.loads(r.stdout)["verdict"] == "deadlock"
    assert "::error" not in r.stdout and "::error" in r.stderr


@pytest.mark.e2e
def test_a_real_run_annotates_the_users_line_and_leaves_stdout_alone(tmp_path):
    script = REPRO / "feeder_dropped_item" / "drop_and_exit.py"
    run = run_check(str(script), "fork", tmp_path=tmp_path,
                    env={**os.environ, **GH, "GITHUB_WORKSPACE": str(ROOT)})
    assert run.rc == 0, run.stderr
    assert run.stdout == b"child exit code 0\n"
    annotations = [line for line in run.stderr.splitlines() if line.startswith("::")]
    assert annotations == [
        "::warning file=repro/feeder_dropped_item/drop_and_exit.py,line=15,"
        f"title=mpdoctor feeder-dropped-item::{run.report['findings'][0]['summary']}"]


@pytest.mark.e2e
def test_a_real_deadlock_annotates_the_join_line(tmp_path):
    run = run_check(str(REPRO / "join_before_drain" / "seed_hang.py"), "20000", "fork",
                    tmp_path=tmp_path, env={**os.environ, **GH, "GITHUB_WORKSPACE": str(ROOT)})
    assert run.rc == DEADLOCK
    annotations = [line for line in run.stderr.splitlines() if line.startswith("::")]
    assert len(annotations) == 1
    assert annotations[0].startswith("::error file=repro/join_before_drain/seed_hang.py,"
                                     "line=30,title=mpdoctor join-before-drain::main process ")


SUITE = """
import multiprocessing


def put_one(q):
    q.put(["hello", 20000 * "ss"])


def test_seed_deadlock():
    q = multiprocessing.Queue()
    children = [multiprocessing.Process(target=put_one, args=(q,)) for _ in range(10)]
    for p in children:
        p.start()
    for p in children:
        p.join()


def test_passes():
    pass
"""


@pytest.mark.e2e
@pytest.mark.parametrize("extra", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_plugin_annotates_in_the_summary(pytester, monkeypatch, extra):
    for name in ("MPDOCTOR", "MPDOCTOR_TIMEOUT", "MPDOCTOR_LEAKS", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    tag = uuid.uuid4().hex
    monkeypatch.setenv("MPDOCTOR_TEST_TAG", tag)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path))
    pytester.makepyfile(test_suite=SUITE)
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--mpdoctor", *extra,
                                               timeout=120)
    finally:
        left = outlived(tag)
    assert not left, f"processes of the session outlived it: {left}"
    result.assert_outcomes(failed=1, passed=1)
    lines = [line for line in result.stdout.lines if line.startswith("::")]
    assert len(lines) == 1, result.stdout.str()
    assert lines[0].startswith("::error file=test_suite.py,line=14,"
                               "title=mpdoctor join-before-drain::main process ")
    # in the summary, after mpdoctor's own lines
    summary = result.stdout.str().split("-- mpdoctor --", 1)[1]
    assert lines[0] in summary.splitlines()


@pytest.mark.e2e
def test_plugin_outside_github_actions_prints_none(pytester, monkeypatch):
    for name in ("MPDOCTOR", "GITHUB_ACTIONS", "GITHUB_WORKSPACE", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    tag = uuid.uuid4().hex
    monkeypatch.setenv("MPDOCTOR_TEST_TAG", tag)
    pytester.makepyfile(test_suite=SUITE)
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--mpdoctor",
                                               timeout=120)
    finally:
        left = outlived(tag)
    assert not left
    result.assert_outcomes(failed=1, passed=1)
    assert not [line for line in result.stdout.lines if line.startswith("::")]
