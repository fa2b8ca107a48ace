"""``mpdoctor explain SLUG`` and what each finding points at: commands that work wherever
mpdoctor is installed (``mpdoctor explain SLUG``, ``mpdoctor repro run CASE FILE``)."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys

import pytest

from conftest import REPRO, USAGE, load_fixture
from mpdoctor import catalogue, explain
from mpdoctor.diagnose import SLUGS, UNEXPLAINED, diagnose
from mpdoctor.report import Report, console, jsonreport


def mpdoctor(*args, cwd=None, exe=None):
    cmd = [exe] if exe else [sys.executable, "-m", "mpdoctor"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "100"})


@pytest.mark.parametrize("slug", SLUGS)
def test_explain_prints_the_page_rendered(slug, tmp_path):
    r = mpdoctor("explain", slug, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert slug in r.stdout.splitlines()[0] or slug in r.stdout[:400]
    heading = next(line[3:] for line in explain.page(slug).read_text().splitlines()
                   if line.startswith("## "))
    assert heading in r.stdout and f"## {heading}" not in r.stdout  # rendered, not raw


def test_explain_unknown_slug_is_one_paragraph_listing_the_slugs():
    r = mpdoctor("explain", "no-such-thing")
    assert r.returncode == USAGE
    assert r.stdout == ""
    assert r.stderr.startswith("mpdoctor: error: there is no diagnosis 'no-such-thing'.")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    for slug in SLUGS:
        assert slug in r.stderr


def test_explain_suggests_a_close_slug():
    r = mpdoctor("explain", "join-before")
    assert r.returncode == USAGE and "Did you mean join-before-drain?" in r.stderr


@pytest.mark.parametrize("slug", [s for s in SLUGS if s != UNEXPLAINED])
def test_each_example_is_a_catalogue_run_that_gives_the_diagnosis(slug):
    cmd = explain.example(slug)
    assert cmd is not None and cmd.startswith("mpdoctor repro run ")
    words = shlex.split(cmd)[3:]
    options = []
    while words[0].startswith("-"):
        options += words[:2]
        words = words[2:]
    case = catalogue.find(words[0], REPRO)
    run = next(r for r in case.runs
               if list(r.argv) == [*options, *words[1:]])
    assert slug in run.slugs


def _seed_report():
    snap = load_fixture("seed_fork.json")
    return Report(verdict="deadlock", exit_code=86, diagnosis=diagnose(snap), snapshot=snap)


def test_console_finding_points_at_explain_and_a_repro_run_command():
    buf = io.StringIO()
    console.print_report(_seed_report(), buf, color=False)
    text = buf.getvalue()
    assert ("explain: mpdoctor explain join-before-drain  |  example: mpdoctor repro run "
            "join_before_drain seed_hang.py 20000  |  fixed: mpdoctor repro run "
            "join_before_drain fix_drain_first.py") in text
    assert "docs: docs/diagnoses" not in text  # a path that a wheel install does not have


def test_json_finding_has_the_commands_and_keeps_the_old_fields():
    data = json.loads(jsonreport.render(_seed_report()))
    f = data["findings"][0]
    assert f["explain"] == "mpdoctor explain join-before-drain"
    assert f["example"] == "mpdoctor repro run join_before_drain seed_hang.py 20000"
    assert f["fixed"] == "mpdoctor repro run join_before_drain fix_drain_first.py"
    assert f["docs"] == "docs/diagnoses/join-before-drain.md" and f["repro"]
    assert data["schema"] == 1


def test_junit_message_points_at_explain():
    from mpdoctor.report import pytestreport
    from mpdoctor.model import Outcome, Verdict
    from mpdoctor.run.inprocess import Reached
    snap = load_fixture("seed_fork.json")
    v = Reached(Outcome(Verdict.DEADLOCK, diagnosis=diagnose(snap), snapshot=snap, duration=0.5,
                        proof_seconds=0.1), targets=[])
    msg = pytestreport.message(v)
    assert msg.startswith("mpdoctor: DEADLOCK [join-before-drain] ")
    assert msg.endswith("(explain: mpdoctor explain join-before-drain; example: mpdoctor repro "
                        "run join_before_drain seed_hang.py 20000; fixed: mpdoctor repro run "
                        "join_before_drain fix_drain_first.py)")


@pytest.mark.e2e
def test_explain_works_from_a_wheel_install(wheel_install, tmp_path):
    r = mpdoctor("explain", "pipe-both-send", cwd=tmp_path,
                 exe=str(wheel_install / "bin" / "mpdoctor"))
    assert r.returncode == 0, r.stderr
    assert "How mpdoctor proves it" in r.stdout
    ex = explain.example("pipe-both-send")
    r = subprocess.run([str(wheel_install / "bin" / "mpdoctor"), *shlex.split(ex)[1:]],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       stdin=subprocess.DEVNULL, start_new_session=True)
    assert r.returncode == 86 and "[pipe-both-send]" in r.stderr, r.stderr
    assert "mpdoctor explain pipe-both-send" in r.stderr
