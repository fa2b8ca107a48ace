"""The HTML report: what the page says, that everything from the script is escaped, that the
graph's layout stays readable up to 64 processes, and what a real browser makes of the page
(headless Chromium through the DevTools protocol: title, the cycle in red, no console error,
nothing loaded but the file itself)."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import chromium
from conftest import (DEADLOCK, FIXTURES, REPRO, ROOT, USAGE, load_fixture, outlived,
                      run_check)
from mpdoctor.diagnose import diagnose
from mpdoctor.model import Holder, Snapshot
from mpdoctor.report import Report, html, svg

pytest_plugins = ["pytester"]

SEED = str(REPRO / "join_before_drain" / "seed_hang.py")
SEED_TITLE = "mpdoctor: DEADLOCK proven [join-before-drain] \u2014 seed_hang.py"
EVIL = "<script>alert(1)</script>"


def _report(snapshot: Snapshot, command=("python", "seed_hang.py", "20000")) -> Report:
    return Report(verdict="deadlock", exit_code=DEADLOCK, command=tuple(command),
                  diagnosis=diagnose(snapshot), snapshot=snapshot, stopped=10)


def grow(s: Snapshot, children: int, distinct: bool) -> Snapshot:
    """The seed snapshot with ``children`` copies of one of its stuck children (besides the
    writer on the cycle): every copy holds both ends of the queue's pipe and maps its
    semaphore, as the real ones do.  ``distinct``: each copy's outermost frame is on another
    line, so that no two are alike and none is grouped with another."""
    template = s.by_pid[3811]
    kids = []
    for i in range(children):
        pid = 20000 + 10 * i
        threads = []
        for j, t in enumerate(template.threads):
            frames = tuple(dataclasses.replace(f, line=f.line + i) if distinct and k == 0
                           else f for k, f in enumerate(t.frames))
            threads.append(dataclasses.replace(t, tid=pid + j, frames=frames))
        kids.append(dataclasses.replace(template, pid=pid, threads=tuple(threads)))
    keep = [s.by_pid[s.root_pid], s.by_pid[3794]]
    pids = [p.pid for p in keep + kids]
    pipes = tuple(dataclasses.replace(p, readers=tuple(Holder(x, 3) for x in pids),
                                      writers=tuple(Holder(x, 4) for x in pids))
                  for p in s.pipes)
    shared = tuple(dataclasses.replace(m, mappers=tuple(pids)) for m in s.shared)
    return dataclasses.replace(s, processes=tuple(keep + kids), pipes=pipes, shared=shared)


# --------------------------------------------------------------------------------------------
# the page, as text


def test_seed_page_says_what_the_console_report_says():
    page = html.render(_report(load_fixture("seed_fork_v1.json")))
    assert page.startswith("<!DOCTYPE html>")
    assert f"<title>{SEED_TITLE}</title>" in page
    assert "<h1>DEADLOCK proven</h1>" in page
    assert '<span class="slug">join-before-drain</span>' in page
    assert "Drain before you join" in page  # the fix
    assert "63,684 of 65,536 bytes full" in page  # evidence
    assert "back to 1: the cycle is closed" in page
    assert "seed_hang.py:30" in page and "p.join()" in page  # the user's line and its source
    assert page.count('<details class="fold">') >= 5  # library frames folded, and expandable
    assert "frames inherited from the parent at fork" in page
    assert "and 7 more with the same threads and stacks" in page
    assert page.count('<path class="edge') == len(
        svg.layout(load_fixture("seed_fork_v1.json"), diagnose(load_fixture("seed_fork_v1.json")))
        .edges)


def test_page_loads_nothing_from_anywhere():
    page = html.render(_report(load_fixture("seed_fork_v1.json")))
    assert f'content="{html.CSP}"' in page and "default-src 'none'" in html.CSP
    assert "<script" not in page.lower()
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert "@import" not in page
    # the SVG namespace is the one URL in the page; url(...) only for its own markers
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {"#arrow", "#arrow-holder",
                                                        "#arrow-cycle"}


def test_same_report_same_page():
    r = _report(load_fixture("seed_forkserver.json"))
    assert html.render(r) == html.render(r)
    big = grow(load_fixture("seed_fork_v1.json"), 62, distinct=True)
    assert svg.render(svg.layout(big, diagnose(big))) == svg.render(svg.layout(big,
                                                                              diagnose(big)))


def test_the_cycle_is_marked_in_the_graph():
    s = load_fixture("seed_fork_v1.json")
    lay = svg.layout(s, diagnose(s))
    assert lay.closed
    cycle = [(e.src, e.dst) for e in lay.edges if e.cycle]
    # parent's wait4 -> the child; the child's main thread -> its feeder (a lock); the feeder
    # -> the full pipe -> the parent, who holds its read end
    assert cycle == [("p3792/3792", "p3794"), ("p3794/3794", "p3794/3798"),
                     ("p3794/3798", "r:write:pipe:[11632]"), ("r:write:pipe:[11632]", "p3792")]
    assert {r.key for b in lay.boxes for r in b.rows if r.cycle} == {
        "p3792/3792", "p3794/3794", "p3794/3798"}
    assert all(e.show_label for e in lay.edges if e.cycle and e.label)
    # a timeout (nothing proven) marks nothing
    sleeper = load_fixture("child_sleeps_fork.json")
    quiet = svg.layout(sleeper, diagnose(sleeper))
    assert not quiet.closed and not any(e.cycle for e in quiet.edges)


def test_every_fixture_renders(tmp_path):
    for path in sorted(FIXTURES.glob("*.json")):
        s = load_fixture(path.name)
        d = diagnose(s)
        r = Report(verdict="deadlock" if d.deadlock else "timeout", exit_code=DEADLOCK,
                   diagnosis=d, snapshot=s, timeout=2.0)
        page = html.render(r)
        for p in s.processes:
            assert f"{p.pid}" in page, (path.name, p.pid)
        for f in d.findings:
            assert f'<span class="slug">{f.slug}</span>' in page, path.name


def test_a_clean_run_is_a_short_page():
    page = html.render(Report(verdict="ok", exit_code=0, status=0))
    assert "<h1>no hang</h1>" in page and "exited with status 0" in page
    assert "<svg" not in page


# --------------------------------------------------------------------------------------------
# escaping


def _evil_snapshot(tmp_path: Path) -> Snapshot:
    """The seed snapshot, with the script's path, its arguments, a thread name and a source
    line carrying markup."""
    src = tmp_path / f"{EVIL}.py"  # a directory "<script>alert(1)<" and a file in it
    src.parent.mkdir()
    src.write_text("\n" * 29 + f"    p.join()  # {EVIL} <img src=x onerror=alert(2)>\n")
    s = load_fixture("seed_fork_v1.json")
    procs = []
    for p in s.processes:
        threads = tuple(dataclasses.replace(
            t, name=(EVIL if t.tid != p.pid else t.name),
            frames=tuple(dataclasses.replace(f, filename=str(src))
                         if f.filename.endswith("seed_hang.py") else f for f in t.frames))
            for t in p.threads)
        procs.append(dataclasses.replace(p, threads=threads,
                                         cmdline=("python3", str(src), EVIL, "&amp;", '"q"')))
    return dataclasses.replace(s, processes=tuple(procs))


def test_everything_from_the_script_is_escaped(tmp_path):
    s = _evil_snapshot(tmp_path)
    page = html.render(_report(s, command=("python3", str(tmp_path / f"{EVIL}.py"), EVIL)))
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page  # the source line, shown as text
    assert "&amp;amp;" in page  # an ampersand is escaped once, and shown as typed
    assert "&quot;q&quot;" in page or "&#x27;&quot;q&quot;&#x27;" in page


# --------------------------------------------------------------------------------------------
# layout: 1 to 64 processes


def _rects(lay):
    return [(b.key, b.x, b.y, b.w, b.h) for b in lay.boxes] + \
        [(n.key, n.x, n.y, n.w, n.h) for n in lay.nodes]


def _points(d: str):
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)]


def _crosses(a, b, rect) -> bool:
    """The straight run a-b enters the inside of rect (its border may be touched)."""
    _, x, y, w, h = rect
    inside = 0.5
    if abs(a[0] - b[0]) < 0.01:  # vertical
        lo, hi = sorted((a[1], b[1]))
        return x + inside < a[0] < x + w - inside and lo < y + h - inside and hi > y + inside
    lo, hi = sorted((a[0], b[0]))
    return y + inside < a[1] < y + h - inside and lo < x + w - inside and hi > x + inside


@pytest.mark.parametrize("children, distinct, boxes", [
    (0, False, 2), (8, False, 3), (62, False, 3), (62, True, 64)],
    ids=["2-processes", "10-alike", "64-alike", "64-distinct"])
def test_graph_stays_readable(children, distinct, boxes):
    s = grow(load_fixture("seed_fork_v1.json"), children, distinct)
    d = diagnose(s)
    assert d.deadlock
    lay = svg.layout(s, d)
    assert len(lay.boxes) == boxes
    assert sum(len(b.pids) for b in lay.boxes) == len(s.processes)
    # at most three boxes to a line: the picture fits a screen's width however many there are
    assert lay.width <= 3 * svg.BOX_W + 4 * 120 + 2 * svg.MARGIN
    rects = _rects(lay)
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not (a[1] < b[1] + b[3] and b[1] < a[1] + a[3] and a[2] < b[2] + b[4]
                        and b[2] < a[2] + a[4]), (a, b)
        assert 0 <= a[1] and a[1] + a[3] <= lay.width and 0 <= a[2] <= lay.height - a[4]
    # no edge runs through a box or a node: they travel in the gaps between them only
    for e in lay.edges:
        # the path's points (a rounded corner's control point included) go by straight
        # horizontal or vertical steps
        pts = _points(e.d)
        for a, b in zip(pts, pts[1:]):
            assert abs(a[0] - b[0]) < 0.01 or abs(a[1] - b[1]) < 0.01, (e.src, e.dst, a, b)
            for r in rects:
                assert not _crosses(a, b, r), (e.src, e.dst, a, b, r[0])
    # every text fits its box (monospace: the width of a character is known)
    for b in lay.boxes:
        assert len(b.title) * svg.TITLE_W <= b.w - 2 * svg.PAD
        for r in b.rows:
            assert len(r.text) * svg.CHAR_W <= b.w - 2 * svg.PAD
    # the cycle is there, whatever the size
    assert [e for e in lay.edges if e.cycle]


def test_a_shared_queue_is_one_node_not_an_arrow_per_pair():
    s = grow(load_fixture("seed_fork_v1.json"), 62, distinct=True)
    lay = svg.layout(s, diagnose(s))
    assert {n.title for n in lay.nodes} == {"pipe:[11632]", "semaphore"}
    sem = next(n for n in lay.nodes if n.title == "semaphore")
    waits = [e for e in lay.edges if e.dst == sem.key]
    assert len(waits) == 62  # each feeder waiting for the queue's write lock
    assert not [e for e in lay.edges if e.src == sem.key]  # 64 holders: named, not drawn
    assert "64 processes" in sem.sub


# --------------------------------------------------------------------------------------------
# files


def test_file_names_are_safe_and_distinct():
    ids = ["tests/test_a.py::test_x", "tests/test_a.py::test_x[1/2]",
           "tests/test_a.py::test_x[1_2]", "t.py::T::test[<script> ..\\ \u00e9 :*?\"|]", "::",
           ".hidden", "x" * 500]
    names = [html.file_name(i) for i in ids]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9._-]+\.html", name), name
        assert not name.startswith(".") and len(name) <= 150
    assert names[0].startswith("tests_test_a.py__test_x-")


def test_diagnose_writes_the_page(tmp_path):
    out = tmp_path / "seed.html"
    r = subprocess.run([sys.executable, "-m", "mpdoctor", "diagnose",
                        str(FIXTURES / "seed_fork_v1.json"), "--html", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == DEADLOCK, r.stderr
    assert r.stdout == ""
    page = out.read_text(encoding="utf-8")
    assert f"<title>{SEED_TITLE}</title>" in page
    assert not list(tmp_path.glob("*.tmp*"))  # written whole, then renamed into place


def test_html_into_a_missing_directory_is_a_usage_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mpdoctor", "diagnose",
                        str(FIXTURES / "seed_fork_v1.json"), "--html",
                        str(tmp_path / "no" / "such" / "x.html")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == USAGE
    assert "--html" in r.stderr and "Traceback" not in r.stderr


# --------------------------------------------------------------------------------------------
# in a real browser

CHROMIUM = chromium.find()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on PATH (Debian: apt-get install chromium): the page "
                             "is not checked in a browser here")


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM is not None
    b = chromium.Browser(CHROMIUM)
    try:
        yield b
    finally:
        b.close()


#: what the page looks like to the browser: geometry and computed styles of the picture
INSPECT = """(() => {
  const q = s => [...document.querySelectorAll(s)];
  const box = e => { const r = e.getBBox(); return [r.x, r.y, r.width, r.height]; };
  const frames = q('svg.waitfor .box > rect.frame');
  return {
    title: document.title,
    h1: document.querySelector('h1').textContent,
    cycle: q('svg.waitfor path.edge.cycle').map(e => getComputedStyle(e).stroke),
    others: q('svg.waitfor path.edge:not(.cycle)').map(e => getComputedStyle(e).stroke),
    cycleRows: q('svg.waitfor .row.cycle').map(e => e.getAttribute('data-row')),
    frames: frames.map(box),
    texts: q('svg.waitfor .box').map(g => {
      const f = g.querySelector('rect.frame').getBBox();
      return [...g.querySelectorAll('text')].map(t => {
        const b = t.getBBox(); return [t.textContent, b.x + b.width <= f.x + f.width, f.x <= b.x];
      });
    }).flat(),
    scripts: q('script').length,
    folds: q('details.fold').length,
    openFolds: q('details.fold[open]').length,
    svgWidth: document.querySelector('svg.waitfor').getBoundingClientRect().width,
    pageWidth: document.documentElement.clientWidth,
  };
})()"""


@needs_chromium
def test_seed_report_in_chromium(browser, tmp_path):
    page = tmp_path / "seed.html"
    subprocess.run([sys.executable, "-m", "mpdoctor", "diagnose",
                    str(FIXTURES / "seed_fork_v1.json"), "--html", str(page)],
                   capture_output=True, cwd=ROOT, timeout=120)
    browser.open(str(page))
    seen = browser.evaluate(INSPECT)
    assert seen["title"] == SEED_TITLE
    assert seen["h1"] == "DEADLOCK proven"
    # the cycle: four arrows, drawn in red; the other arrows are not
    assert seen["cycle"] == ["rgb(220, 38, 38)"] * 4
    assert seen["others"] and "rgb(220, 38, 38)" not in seen["others"]
    assert sorted(seen["cycleRows"]) == ["p3792/3792", "p3794/3794", "p3794/3798"]
    # boxes as drawn do not overlap, and every text stays inside its box
    f = seen["frames"]
    for i, a in enumerate(f):
        for b in f[i + 1:]:
            assert not (a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3]
                        and b[1] < a[1] + a[3])
    assert seen["texts"] and all(inside and left for _, inside, left in seen["texts"]), \
        [t for t in seen["texts"] if not (t[1] and t[2])]
    assert seen["svgWidth"] <= seen["pageWidth"]
    # library frames folded, none open, and one opens
    assert seen["folds"] >= 5 and seen["openFolds"] == 0
    opened = browser.evaluate("""(() => { const d = document.querySelector('details.fold');
        const before = [d.getBoundingClientRect().height, d.querySelector('ol').checkVisibility()];
        d.open = true;
        return before.concat([d.getBoundingClientRect().height,
                              d.querySelector('ol').checkVisibility()]); })()""")
    closed_h, closed_visible, open_h, open_visible = opened
    assert not closed_visible and open_visible and open_h > closed_h + 30, opened
    # nothing in the console, nothing loaded but the page itself
    assert browser.problems() == []
    assert browser.requests() == [page.as_uri()]


@needs_chromium
def test_markup_from_the_script_stays_text_in_chromium(browser, tmp_path):
    s = _evil_snapshot(tmp_path)
    page = tmp_path / "evil.html"
    html.write(_report(s, command=("python3", str(tmp_path / f"{EVIL}.py"), EVIL)), str(page))
    browser.open(str(page))
    seen = browser.evaluate("""(() => ({
        scripts: document.querySelectorAll('script').length,
        imgs: document.querySelectorAll('img').length,
        text: document.body.textContent }))()""")
    assert seen["scripts"] == 0 and seen["imgs"] == 0
    assert EVIL in seen["text"] and "<img src=x onerror=alert(2)>" in seen["text"]
    assert browser.problems() == []
    assert browser.requests() == [page.as_uri()]


# --------------------------------------------------------------------------------------------
# end to end: real deadlocks

EVIL_SCRIPT = textwrap.dedent('''
    import multiprocessing
    import sys
    import threading


    def child(q):
        threading.Thread(target=threading.Event().wait, name=sys.argv[1], daemon=True).start()
        q.get()


    if __name__ == "__main__":
        multiprocessing.set_start_method("fork")
        q = multiprocessing.Queue()
        p = multiprocessing.Process(target=child, args=(q,))
        p.start()
        p.join()  # <script>alert("src")</script>
''')


@pytest.mark.e2e
def test_check_writes_the_page_of_a_real_seed_deadlock(tmp_path):
    page, snap = tmp_path / "seed.html", tmp_path / "seed.json"
    run = run_check(SEED, "20000", "fork", tmp_path=tmp_path,
                    extra=["--html", str(page), "--save-snapshot", str(snap)])
    assert run.rc == DEADLOCK, run.stderr
    text = page.read_text(encoding="utf-8")
    assert f"<title>{SEED_TITLE}</title>" in text
    # the cycle drawn is the one of the saved facts: from the parent's join, through a child
    # (or two: one stuck behind the other's write lock), back to the parent via the full pipe
    s = load_fixture(str(snap))
    cycle = [e for e in svg.layout(s, diagnose(s)).edges if e.cycle]
    drawn = len(re.findall(r'<path class="edge \w+ cycle"', text))
    assert drawn == len(cycle) >= 4
    root = f"p{s.root_pid}"
    assert f"{root}/{s.root_pid}" in {e.src for e in cycle} and root in {e.dst for e in cycle}
    ends = {e.dst for e in cycle} | {e.dst.split("/")[0] for e in cycle}
    for e in cycle:  # closed: each arrow starts where another one ends (in a box, or at a node)
        assert e.src in ends or e.src.split("/")[0] in ends, (e.src, ends)
    # the snapshot replays into the same diagnosis
    again = tmp_path / "again.html"
    r = subprocess.run([sys.executable, "-m", "mpdoctor", "diagnose", str(snap), "--html",
                        str(again)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == DEADLOCK, r.stderr
    assert f"<title>{SEED_TITLE}</title>" in again.read_text(encoding="utf-8")


@pytest.mark.e2e
def test_a_script_named_with_markup(tmp_path):
    script = tmp_path / "<script>alert('name').py"
    script.write_text(EVIL_SCRIPT)
    page = tmp_path / "evil.html"
    run = run_check(str(script), EVIL, tmp_path=tmp_path, extra=["--html", str(page)])
    assert run.rc == DEADLOCK, run.stderr
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&#x27;name&#x27;).py" in text  # the script's name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # its argument, a thread's name
    assert "&lt;script&gt;alert(&quot;src&quot;)&lt;/script&gt;" in text  # its source line
    if CHROMIUM is not None:
        b = chromium.Browser(CHROMIUM)
        try:
            b.open(str(page))
            assert b.evaluate("document.querySelectorAll('script').length") == 0
            assert b.problems() == []
            assert b.requests() == [page.as_uri()]
        finally:
            b.close()


# --------------------------------------------------------------------------------------------
# the pytest plugin: one page per failing test

PLUGIN_SUITE = """
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
def test_plugin_writes_one_page_per_failing_test(pytester, monkeypatch):
    for name in ("MPDOCTOR", "MPDOCTOR_TIMEOUT", "MPDOCTOR_LEAKS", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    tag = uuid.uuid4().hex
    monkeypatch.setenv("MPDOCTOR_TEST_TAG", tag)
    pytester.makepyfile(test_suite=PLUGIN_SUITE)
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--mpdoctor",
                                               "--mpdoctor-html", "reports", timeout=120)
    finally:
        left = outlived(tag)
    assert not left, f"processes of the session outlived it: {left}"
    result.assert_outcomes(failed=1, passed=1)
    pages = sorted((pytester.path / "reports").iterdir())
    assert [p.name for p in pages] == [html.file_name("test_suite.py::test_seed_deadlock")]
    text = pages[0].read_text(encoding="utf-8")
    assert "<title>mpdoctor: DEADLOCK proven [join-before-drain] \u2014 " \
           "test_suite.py::test_seed_deadlock</title>" in text
    assert "nothing in the test&#x27;s process tree can ever move again" in text
    assert 'class="edge wait cycle"' in text
    result.stdout.fnmatch_lines(["*mpdoctor: HTML report*", f"*{pages[0]}*"])
    assert os.path.isabs(str(pages[0]))
