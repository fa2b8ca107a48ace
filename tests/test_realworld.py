"""The project's own real-world corpus (tests/realworld/: small programs rewritten from public
bug reports and Q&A threads, each with its expected outcome, see its README) under
``mpdoctor check``.

Each case runs once per start method its case.json lists (``MPDOCTOR_CASE_START`` tells the
script which one), on the platforms and Pythons that have it.  The verdict and the exit status
must be the case's, its slug must be among the findings, an ``ok`` control must have no finding
at all, and ``unexplained-deadlock`` is never an answer.  The fast, non-e2e tests check that
every case.json is well formed and that the corpus covers every diagnosis it is meant to."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from conftest import DEADLOCK, TIMEOUT, run_check

REALWORLD = Path(__file__).parent / "realworld"
METHODS = ("fork", "spawn", "forkserver")

# slugs mpdoctor has today (docs/diagnoses/) and the ones this corpus asks for
EXISTING_SLUGS = {
    "join-before-drain", "get-without-producer", "put-without-consumer", "never-signalled",
    "fork-with-lock-held", "exit-blocked-by-child", "pipe-both-send", "pool-worker-died",
    "pool-result-handler-died", "pool-terminated", "unpicklable-payload", "feeder-dropped-item",
    "missing-main-guard",
}
NEW_SLUGS = {
    "lock-holder-died", "lock-reentered", "exit-blocked-by-thread", "inherited-pipe-end",
    "polling-without-progress", "pool-respawn-loop", "waits-on-outside", "child-exception",
    "process-killed", "broken-process-pool", "manager-died", "daemon-with-children",
    "pool-misuse", "function-not-found-in-child", "shared-state-gone", "lock-order-inversion",
}
KNOWN_SLUGS = EXISTING_SLUGS | NEW_SLUGS
# the diagnoses mpdoctor has: each has its page.  A case whose slug is not among them is wanted
# work (it says what mpdoctor must answer once it can) and is skipped, with the reason, unless
# MPDOCTOR_REALWORLD_ALL=1
BUILT_SLUGS = {page.stem for page in
               (Path(__file__).parent.parent / "docs" / "diagnoses").glob("*.md")}
ALL_CASES = "MPDOCTOR_REALWORLD_ALL"
# cases of a diagnosis mpdoctor has, in a shape it cannot answer yet: expected to fail (strict:
# the day one passes, this list must shrink)
KNOWN_GAPS: Dict[str, str] = {}
# how many cases run at once (MPDOCTOR_REALWORLD_AHEAD overrides; 1: one by one)
AHEAD = 4
# every new slug, and these existing ones, must be the expected diagnosis of some case
REQUIRED_SLUGS = NEW_SLUGS | {"join-before-drain", "exit-blocked-by-child", "get-without-producer",
                              "pipe-both-send", "broken-process-pool"}

VERDICTS_OF = {"hang": {"deadlock", "timeout"}, "crash": {"failed"}, "ok": {"ok"}}
EXIT_STATUS = {"deadlock": DEADLOCK, "timeout": TIMEOUT, "ok": 0}
RESERVED_STATUSES = set(range(86, 91))  # mpdoctor's own exit statuses
# seconds: a hang is reached within a few seconds; the ok controls run for up to about 5 s, and
# a crash ends by itself (in a few seconds, on a slow interpreter with many spawned workers)
TIMEOUT_OF = {"ok": "30", "crash": "30"}
DEFAULT_TIMEOUT = "10"

URL = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
VERSION = re.compile(r"^3\.\d+$")
FIELDS = {"id", "source", "summary", "expected", "slug", "verdict", "start_methods",
          "python_min", "observed"}
OPTIONAL = {"python_max", "exit_code", "notes"}


def _case_dirs() -> List[Path]:
    return sorted(p for p in REALWORLD.iterdir() if (p / "case.json").is_file())


def _meta(case: Path) -> dict:
    return json.loads((case / "case.json").read_text())


def _version(text: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


CASES = _case_dirs()


def _params() -> List[object]:
    params = []
    for case in CASES:
        meta = _meta(case)
        for method in meta.get("start_methods", []):
            params.append(pytest.param(case, method, id=f"{case.name}-{method}"))
    return params


def _skip_reason(meta: dict, method: str) -> Optional[str]:
    if method not in multiprocessing.get_all_start_methods():
        return f"start method {method} is not available on this platform"
    running = sys.version_info[:2]
    if running < _version(meta["python_min"]):
        return f"the case needs Python >= {meta['python_min']}"
    if "python_max" in meta and running > _version(meta["python_max"]):
        return f"the bug was fixed after Python {meta['python_max']}"
    return None


def _describe(run) -> str:
    report = run.report or {}
    found = [(f.get("slug"), f.get("severity"), f.get("summary")) for f in
             report.get("findings", [])]
    return (f"mpdoctor gave verdict={report.get('verdict')!r} exit={run.rc} findings={found}\n"
            f"--- stderr (tail) ---\n{run.stderr[-3000:]}")


def _unbuilt(meta: dict) -> Optional[str]:
    """Why a case is not run by default: its diagnosis has no page in docs/diagnoses/ (every
    diagnosis mpdoctor has comes with one), so mpdoctor cannot name it yet."""
    slug = meta["slug"]
    if slug is None or slug in BUILT_SLUGS or os.environ.get(ALL_CASES) == "1":
        return None
    return (f"mpdoctor has no {slug!r} diagnosis yet (no docs/diagnoses/{slug}.md); "
            f"{ALL_CASES}=1 runs the case anyway")


def _run_case(case: Path, method: str, tmp_path: Path):
    meta = _meta(case)
    # what a case leaves behind when it is stopped (a FIFO, joblib's memmapping folder in
    # /dev/shm) stays in tmp_path
    env = dict(os.environ, MPDOCTOR_CASE_START=method, TMPDIR=str(tmp_path),
               JOBLIB_TEMP_FOLDER=str(tmp_path))
    timeout = TIMEOUT_OF.get(meta["expected"], DEFAULT_TIMEOUT)
    return run_check("--timeout", timeout, str(case / "script.py"), tmp_path=tmp_path, env=env)


class _Ahead:
    """Runs the next cases of this session ahead of their tests, ``AHEAD`` at a time, in
    threads (each ``mpdoctor check`` is a process tree of its own, in a session of its own, so
    they do not meet).  Most cases wait, in a hang or for an ``ok`` control's late answer, so
    this divides the corpus's wall time without loading the machine.  Under pytest-xdist each
    worker runs its own tests one by one: it does not know which tests come next."""

    def __init__(self) -> None:
        self.pool: Optional[ThreadPoolExecutor] = None
        self.runs: Dict[str, Future] = {}

    def result(self, request, case: Path, method: str, tmp_path: Path):
        key = request.node.nodeid
        ahead = int(os.environ.get("MPDOCTOR_REALWORLD_AHEAD", AHEAD))
        if ahead > 1 and not hasattr(request.config, "workerinput"):
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=ahead)
            items = [item for item in request.session.items
                     if getattr(item, "originalname", None) == "test_realworld_case"]
            ids = [item.nodeid for item in items]
            start = ids.index(key) if key in ids else len(ids)
            for item in items[start:start + ahead]:
                if item.nodeid in self.runs:
                    continue
                params = item.callspec.params
                meta = _meta(params["case"])
                if (_skip_reason(meta, params["method"]) or _unbuilt(meta)
                        or ("joblib" in (params["case"] / "script.py").read_text()
                            and _JOBLIB is None)):
                    continue
                # a short name: a forkserver's socket goes below TMPDIR, within 108 bytes
                folder = request.getfixturevalue("tmp_path_factory").mktemp("rw")
                self.runs[item.nodeid] = self.pool.submit(
                    _run_case, params["case"], params["method"], folder)
        future = self.runs.pop(key, None)
        if future is None:
            return _run_case(case, method, tmp_path)
        return future.result()


_AHEAD = _Ahead()
try:
    import joblib as _JOBLIB  # noqa: F401
except ImportError:  # pragma: no cover - joblib is in the test extra
    _JOBLIB = None


@pytest.mark.e2e
@pytest.mark.parametrize("case,method", _params())
def test_realworld_case(case: Path, method: str, tmp_path: Path, record_property,
                        request) -> None:
    meta = _meta(case)
    script = (case / "script.py").read_text()
    reason = _skip_reason(meta, method) or _unbuilt(meta)
    if reason:
        pytest.skip(reason)
    if case.name in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_GAPS[case.name], strict=True))
    if "joblib" in script:
        pytest.importorskip("joblib", reason="the case needs joblib (in the test extra)")
    run = _AHEAD.result(request, case, method, tmp_path)
    # what mpdoctor answered, for the JUnit XML report (--junitxml): the corpus's scoreboard
    record_property("verdict", (run.report or {}).get("verdict"))
    record_property("exit_status", run.rc)
    record_property("slugs", ",".join(run.slugs))
    record_property("seconds", f"{run.duration:.1f}")
    assert run.report is not None, _describe(run)
    assert "unexplained-deadlock" not in run.slugs, _describe(run)
    verdict = meta["verdict"]
    assert run.report["verdict"] == verdict, _describe(run)
    wanted = meta["exit_code"] if verdict == "failed" else EXIT_STATUS[verdict]
    assert run.rc == wanted, _describe(run)
    if verdict == "ok":
        assert run.slugs == [], _describe(run)
    else:
        assert meta["slug"] in run.slugs, _describe(run)


# --- the corpus itself (fast) ---


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_case_json_is_well_formed(case: Path) -> None:
    meta = _meta(case)
    assert FIELDS <= set(meta), f"missing fields: {sorted(FIELDS - set(meta))}"
    unknown = set(meta) - FIELDS - OPTIONAL
    assert not unknown, f"unknown fields: {sorted(unknown)}"
    assert meta["id"] == case.name
    assert (case / "script.py").is_file()
    assert "MPDOCTOR_CASE_START" in (case / "script.py").read_text(), \
        "the script must choose its start method from MPDOCTOR_CASE_START"

    sources = meta["source"]
    assert isinstance(sources, list) and sources
    for url in sources:
        assert isinstance(url, str) and URL.match(url), f"not a URL: {url!r}"
    assert isinstance(meta["summary"], str) and meta["summary"].strip()
    assert "\n" not in meta["summary"], "the summary is one line"

    expected, verdict, slug = meta["expected"], meta["verdict"], meta["slug"]
    assert expected in VERDICTS_OF
    assert verdict in VERDICTS_OF[expected], f"{expected} cannot have verdict {verdict}"
    if expected == "ok":
        assert slug is None
    else:
        assert slug in KNOWN_SLUGS, f"unknown slug {slug!r}"
    assert slug != "unexplained-deadlock"

    methods = meta["start_methods"]
    assert isinstance(methods, list) and methods
    assert len(set(methods)) == len(methods) and set(methods) <= set(METHODS)

    assert VERSION.match(meta["python_min"]), meta["python_min"]
    if "python_max" in meta:
        assert VERSION.match(meta["python_max"]), meta["python_max"]
        assert _version(meta["python_min"]) <= _version(meta["python_max"])

    if verdict == "failed":
        code = meta.get("exit_code")
        assert isinstance(code, int) and not isinstance(code, bool)
        assert code != 0 and code not in RESERVED_STATUSES
    else:
        assert "exit_code" not in meta, "only a crash has an exit status of its own"
    if "notes" in meta:
        assert isinstance(meta["notes"], str) and meta["notes"].strip()

    observed = meta["observed"]
    assert isinstance(observed, dict) and observed, "say what a plain run did"
    for version, runs in observed.items():
        assert re.match(r"^3\.\d+\.\d+$", version), version
        assert isinstance(runs, dict) and set(runs) <= set(METHODS)
        for text in runs.values():
            assert isinstance(text, str) and text


def test_known_gaps_are_cases() -> None:
    assert set(KNOWN_GAPS) <= {case.name for case in CASES}


def test_corpus_covers_every_diagnosis() -> None:
    metas = [_meta(case) for case in CASES]
    slugs = {m["slug"] for m in metas}
    assert REQUIRED_SLUGS <= slugs, f"no case for {sorted(REQUIRED_SLUGS - slugs)}"
    failing = [m for m in metas if m["expected"] != "ok"]
    controls = [m for m in metas if m["expected"] == "ok"]
    assert len(failing) + len(controls) >= 40
    assert len(controls) >= 15
    # each kind of verdict is represented, and each start method
    assert {m["verdict"] for m in metas} == {"deadlock", "timeout", "failed", "ok"}
    assert {s for m in metas for s in m["start_methods"]} == set(METHODS)


def test_readme_lists_every_case() -> None:
    readme = (REALWORLD / "README.md").read_text()
    rows: Dict[str, str] = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and cells[0].strip("`") in {c.name for c in CASES}:
            rows[cells[0].strip("`")] = line
    for case in CASES:
        meta = _meta(case)
        assert case.name in rows, f"{case.name} is not in tests/realworld/README.md"
        cells = [c.strip() for c in rows[case.name].strip().strip("|").split("|")]
        assert cells[2] == meta["expected"] and cells[3] == meta["verdict"], rows[case.name]
        assert cells[4].strip("`") == (meta["slug"] or "-"), rows[case.name]
        assert cells[5] == ", ".join(meta["start_methods"]), rows[case.name]
