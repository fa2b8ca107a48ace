"""The seed deadlock inside a test: the mpdoctor plugin against pytest-timeout and faulthandler.

    python bench/plugin_vs_timeout.py [--runs N] [--timeout SECONDS]

One test (10 children put 40 KB each on a Queue; the test joins them before get()) runs in a
fresh pytest session per configuration, interleaved across configurations:

* ``--mpdoctor``
* ``--timeout=T --timeout-method=thread`` (pytest-timeout)
* ``--timeout=T --timeout-method=signal`` (pytest-timeout)
* ``-o faulthandler_timeout=T`` (pytest's own)

Measured per run: seconds from the start of the test's call to its failure (the report pytest
makes, stamped by a conftest hook; for pytest-timeout's thread method and for faulthandler,
which make none, the moment their stack dump appears on pytest's output); whether the report
holds a child's stack; whether pytest ended by itself within a bound; and how many processes of
the session were left running afterwards.  Everything the script starts runs in a session of
its own and is killed afterwards by process group and by pid (processes carrying this run's
marker in their environment).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Dict, List, Optional

import psutil

TAG = "MPDOCTOR_BENCH_SESSION"

TEST = '''
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
    [q.get() for _ in children]
'''

CONFTEST = '''
import os
import time

import pytest


def _stamp(what):
    with open(os.environ["MPDOCTOR_BENCH_STAMPS"], "a") as f:
        f.write(f"{what} {time.time()}\\n")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    _stamp("start")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call" and outcome.get_result().failed:
        _stamp("failed")
'''

#: how long pytest may take to end by itself once the test has failed (or its dump appeared)
EXIT_BOUND = 15.0


def configs(timeout: float) -> Dict[str, List[str]]:
    t = f"{timeout:g}"
    return {
        "--mpdoctor": ["--mpdoctor"],
        f"--timeout={t} (thread)": [f"--timeout={t}", "--timeout-method=thread"],
        f"--timeout={t} (signal)": [f"--timeout={t}", "--timeout-method=signal"],
        f"faulthandler_timeout={t}": ["-o", f"faulthandler_timeout={t}"],
    }


def tagged(tag: str) -> List[psutil.Process]:
    out = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(TAG) == tag and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except (psutil.Error, OSError):
            continue
    return out


def one(args: List[str], timeout: float) -> dict:
    tag = uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "test_seed.py"), "w") as f:
            f.write(TEST)
        with open(os.path.join(tmp, "conftest.py"), "w") as f:
            f.write(CONFTEST)
        stamps = os.path.join(tmp, "stamps")
        env = dict(os.environ, MPDOCTOR_BENCH_STAMPS=stamps, **{TAG: tag})
        for name in ("MPDOCTOR", "MPDOCTOR_TIMEOUT", "PYTEST_ADDOPTS", "PYTEST_TIMEOUT"):
            env.pop(name, None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
            cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
        lines: List[str] = []
        dump_at: List[float] = []

        def read() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if not dump_at and ("+ Timeout +" in line or "Timeout (0:" in line):
                    dump_at.append(time.time())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + timeout + 30
            failed_at: Optional[float] = None
            while time.monotonic() < deadline and proc.poll() is None:
                got = _stamps(stamps)
                failed_at = got.get("failed") or (dump_at[0] if dump_at else None)
                if failed_at is not None:
                    break
                time.sleep(0.05)  # a benchmark's polling loop, not a test synchronisation
            end_by = time.monotonic() + EXIT_BOUND
            while proc.poll() is None and time.monotonic() < end_by:
                time.sleep(0.05)
            exited = proc.poll() is not None
            got = _stamps(stamps)
            failed_at = got.get("failed") or (dump_at[0] if dump_at else None)
            others = [p for p in tagged(tag) if p.pid != proc.pid]
        finally:
            _kill_all(proc, tag)
            reader.join(5)
        text = "".join(lines)
        start = got.get("start")
        return {
            "seconds": (failed_at - start) if failed_at and start else None,
            "failed": "failed" in got,
            "exited": exited,
            "status": proc.returncode if exited else None,
            "left": len(others),
            "child_stacks": "Queue._feed" in text or "in _feed" in text,
            "diagnosis": "join-before-drain" in text,
        }


def _stamps(path: str) -> Dict[str, float]:
    out: Dict[str, float] = {}
    try:
        with open(path) as f:
            for line in f:
                what, at = line.split()
                out.setdefault(what, float(at))
    except (OSError, ValueError):
        pass
    return out


def _kill_all(proc: subprocess.Popen, tag: str) -> None:
    """Everything of the run: its process group, then any process carrying its marker."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    for p in tagged(tag):
        try:
            p.kill()
        except psutil.Error:
            pass
    proc.wait()
    psutil.wait_procs(tagged(tag), timeout=5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()
    table = configs(args.timeout)
    results: Dict[str, List[dict]] = {name: [] for name in table}
    for _ in range(args.runs):
        for name, extra in table.items():
            results[name].append(one(extra, args.timeout))
    print(f"Python {sys.version.split()[0]}, {args.runs} runs each, seed deadlock in one test")
    print()
    print("| configuration | s from test start to failure (median, min-max) | test failed "
          "| child stacks in report | diagnosis | pytest ended by itself | processes left "
          "behind (max) |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        secs = [r["seconds"] for r in runs if r["seconds"] is not None]
        timing = (f"{statistics.median(secs):.2f} ({min(secs):.2f}-{max(secs):.2f})"
                  if secs else "never")
        if secs and len(secs) < len(runs):
            timing += f" [{len(runs) - len(secs)} runs: never]"
        exited = sum(r["exited"] for r in runs)
        statuses = sorted({r["status"] for r in runs if r["status"] is not None})
        codes = f" (exit {', '.join(map(str, statuses))})" if statuses else ""
        print(f"| {name} | {timing} | {sum(r['failed'] for r in runs)}/{len(runs)} "
              f"| {sum(r['child_stacks'] for r in runs)}/{len(runs)} "
              f"| {sum(r['diagnosis'] for r in runs)}/{len(runs)} "
              f"| {exited}/{len(runs)}{codes} "
              f"| {max(r['left'] for r in runs)} |")
    print()
    print(f"'pytest ended by itself': within {EXIT_BOUND:g} s of the failure (or of the dump).")


if __name__ == "__main__":
    main()
