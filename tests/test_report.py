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


def test_strict_exit_status_is_not_called_ok():
    from mpdoctor.model import Finding, Severity
    from mpdoctor.diagnose import Diagnosis
    f = Finding(slug="feeder-dropped-item", severity=Severity.WARNING, summary="dropped")
    report = Report(verdict="ok", exit_code=90, status=0,
                    diagnosis=Diagnosis(False, (), (f,), ()))
    text = _text(report)
    assert text.rstrip().endswith("exit status 90 (--strict: the script exited 0, with a "
                                  "finding).")
    assert "(ok)" not in text


def test_one_of_a_kind_is_singular():
    from mpdoctor.diagnose.describe import count
    assert [count(1, "process"), count(2, "process"), count(1, "thread"), count(3, "thread")] == [
        "1 process", "2 processes", "1 thread", "3 threads"]
    report = _report()
    report.stopped = 1
    assert "mpdoctor stopped 1 process of the script;" in _text(report)


def test_unexplained_summary_counts_in_the_singular():
    import types
    from mpdoctor.diagnose import unexplained, waitfor
    g = waitfor.build(load_fixture("seed_fork.json"))
    # the rule reads only the stuck set (and the snapshot, for the root's line)
    g = types.SimpleNamespace(stuck={next(iter(g.stuck))}, snapshot=g.snapshot)
    assert unexplained(g, ()).summary.startswith("1 thread in 1 process wait on each other")


def test_a_long_run_of_library_frames_is_shown_by_its_ends():
    from mpdoctor.model import Frame, Thread
    site = "/venv/lib/python3.12/site-packages"
    frames = [Frame("runtest", f"{site}/_pytest/python.py", 10 + i) for i in range(20)]
    frames += [Frame("_hookexec", f"{site}/pluggy/_manager.py", 100 + i) for i in range(12)]
    frames.append(Frame("main", f"{site}/pytest/__main__.py", 5))
    frames.insert(0, Frame("test_it", "/home/u/proj/test_x.py", 7))  # innermost: the user's
    from mpdoctor.diagnose import stacks
    from mpdoctor.model import Libraries, Snapshot
    snap = Snapshot(root_pid=1, processes=(), libraries=Libraries(site=(site,)))
    with stacks.using(snap):
        lines = [t.plain for t in console._fold(Thread(tid=1, frames=tuple(frames)))]
    assert len(lines) == 2
    assert lines[0].strip().startswith("33 library frames: main (__main__.py:5) > ... 31 more "
                                       "(pytest, pluggy, _pytest) ... > runtest (python.py:10)")
    assert len(lines[0]) < 200
    assert lines[1].strip().startswith("/home/u/proj/test_x.py:7 in test_it")


def test_main_guard_evidence_without_the_main_module_name_has_no_placeholder():
    from mpdoctor.diagnose import main_guard
    from mpdoctor.model import Event
    events = [Event("main-guard", 11, 0.0, {"site": "/home/u/job.py:9", "main": None}),
              Event("main-guard", 12, 0.0, {"site": "/home/u/job.py:9"})]
    f = main_guard.from_events(events)[0]
    assert "(?)" not in " ".join(f.evidence)
    assert "imports the main module (/home/u/job.py) again" in f.evidence[0]
    assert f.summary.startswith("2 child processes re-ran the main module")
