import io
import json

from rich.console import Console

from conftest import load_fixture
from mpdoctor.diagnose import diagnose
from mpdoctor.report import Report, console, jsonreport


def _report(name="seed_fork.json", verdict="deadlock"):
    snap = load_fixture(name)
    return Report(verdict=verdict, exit_code=86 if verdict == "deadlock" else 87,
                  command=("python", "seed_hang.py", "20000"), diagnosis=diagnose(snap),
                  snapshot=snap, timeout=None if verdict == "deadlock" else 2.0, stopped=10)


def _text(report, color=False):
    buf = io.StringIO()
    console.print_report(report, buf, color=color)
    return buf.getvalue()


def test_deadlock_report_reads_top_down():
    text = _text(_report())
    lines = text.splitlines()
    assert lines[0].startswith("mpdoctor: DEADLOCK proven")
    order = [text.index(s) for s in ("[join-before-drain]", "Evidence:", "Fix:",
                                     "Wait-for chain", "Processes (")]
    assert order == sorted(order)
    assert "-> back to 1: the cycle is closed" in text
    assert "\x1b[" not in text  # plain text when not a terminal
    assert "library frames:" in text  # stdlib frames folded
    assert "frames inherited from the parent at fork" in text
    assert lines[-1] == "mpdoctor stopped 10 processes of the script; exit status 86 (deadlock)."


def test_colour_only_when_asked():
    assert "\x1b[" in _text(_report(), color=True)


def test_identical_children_are_grouped():
    text = _text(_report())
    assert "more with the same threads and stacks" in text


def test_timeout_report_says_why_nothing_is_proven():
    text = _text(_report("child_sleeps_fork.json", "timeout"))
    assert text.startswith("mpdoctor: TIMEOUT after 2 s")
    assert "Why no deadlock is proven" in text
    assert "sleep" in text


def test_clean_run_prints_nothing():
    assert console.render(Report(verdict="ok", exit_code=0, status=0)) == []


def test_json_report_contract():
    data = json.loads(jsonreport.render(_report()))
    assert data["schema"] == 1
    assert data["verdict"] == "deadlock" and data["exit_code"] == 86
    f = data["findings"][0]
    assert {"slug", "severity", "summary", "evidence", "fix", "docs", "data"} <= set(f)
    assert f["slug"] == "join-before-drain"
    stuck = [t for p in data["processes"] for t in p["threads"] if t["stuck"]]
    assert stuck and all("frames" in t for t in stuck)


def test_rich_console_width_does_not_wrap_lines_in_files():
    buf = io.StringIO()
    c = console.make_console(buf)
    assert isinstance(c, Console)
    c.print(console.Text("x" * 300))
    assert buf.getvalue() == "x" * 300 + "\n"
