"""Run every case of this corpus plainly (no mpdoctor), once per interpreter and start method,
and record what happened in the case's ``observed`` field.

    python tests/realworld/observe.py [-j JOBS] --python PATH [--python PATH ...] [CASE ...]

Each run is a new session (``start_new_session``) with ``MPDOCTOR_CASE_START`` set; a run still
going after its time limit (8 s for hangs, 20 s for crashes and ``ok`` controls) is a ``hang``,
and every process left in its session is killed by pid.  The interpreters must be able to import
what the cases import (joblib for the joblib cases).  Standard library only."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
METHODS = ("fork", "spawn", "forkserver")


def _session_pids(sid: int) -> List[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[3]) == sid and rest[0] not in ("Z", "X"):
            pids.append(int(name))
    return pids


def _kill_session(sid: int) -> None:
    # a killed process may still have forked a child a moment earlier: repeat until empty
    for _ in range(50):
        pids = _session_pids(sid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)


def run_once(python: str, case: Path, method: str, limit: float) -> str:
    env = dict(os.environ, MPDOCTOR_CASE_START=method)
    with tempfile.TemporaryDirectory(prefix="mpcase-") as tmp:
        env["TMPDIR"] = env["JOBLIB_TEMP_FOLDER"] = tmp
        t0 = time.monotonic()
        proc = subprocess.Popen([python, str(case / "script.py")], cwd=tmp, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            rc = None
        elapsed = time.monotonic() - t0
        _kill_session(proc.pid)
        if rc is None:
            proc.kill()
            proc.wait()
            return f"hang (still running after {limit:.0f} s)"
    if rc == 0:
        return f"ok in {elapsed:.1f} s"
    return f"crash: exit status {rc} after {elapsed:.1f} s"


def _version(python: str) -> str:
    out = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", required=True)
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("cases", nargs="*")
    args = parser.parse_args(argv)
    names = args.cases or sorted(p.name for p in HERE.iterdir() if (p / "case.json").is_file())
    jobs: List[Tuple[str, str, Path, str, float]] = []
    for python in args.python:
        version = _version(python)
        for name in names:
            meta = json.loads((HERE / name / "case.json").read_text())
            limit = 8.0 if meta["expected"] == "hang" else 20.0
            for method in METHODS:
                jobs.append((version, python, HERE / name, method, limit))
    results: Dict[Tuple[str, str, str], str] = {}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_once, py, case, m, lim): (v, case.name, m)
                   for v, py, case, m, lim in jobs}
        for future, key in futures.items():
            results[key] = future.result()
            print(f"{key[1]:42s} {key[0]:8s} {key[2]:10s} {results[key]}", flush=True)
    for name in names:
        path = HERE / name / "case.json"
        meta = json.loads(path.read_text())
        observed = meta.get("observed", {})
        for (version, case, method), outcome in results.items():
            if case == name:
                observed.setdefault(version, {})[method] = outcome
        meta["observed"] = dict(sorted(observed.items()))
        path.write_text(json.dumps(meta, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
