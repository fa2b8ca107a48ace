"""Seconds from the seed hang forming to mpdoctor's verdict line on stderr.

    python bench/time_to_diagnosis.py [--runs N] [--methods fork,spawn,forkserver]

The reproducer (bench/seed_stamped.py) stamps the moment each child's put() returns and the
parent starts joining; the hang has formed once all of them happened.  The verdict time is when
the first line of mpdoctor's report arrives on its stderr.  Runs are interleaved across start
methods; prints median, min and max per method.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def one(method: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        stamps = os.path.join(tmp, "stamps")
        env = dict(os.environ, MPDOCTOR_BENCH_STAMPS=stamps)
        proc = subprocess.Popen(
            [sys.executable, "-m", "mpdoctor", "check", "--timeout", "60",
             os.path.join(HERE, "seed_stamped.py"), "20000", method],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
        first = proc.stderr.readline()
        seen = time.time()
        proc.stderr.read()
        rc = proc.wait()
        if rc != 86 or b"DEADLOCK" not in first:
            raise SystemExit(f"{method}: expected a deadlock verdict, got exit {rc}: {first!r}")
        with open(stamps) as f:
            formed = max(float(line.split()[1]) for line in f)
        return seen - formed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--methods", default="fork,spawn,forkserver")
    args = ap.parse_args()
    methods = args.methods.split(",")
    results = {m: [] for m in methods}
    for _ in range(args.runs):
        for m in methods:
            results[m].append(one(m))
    print("| start method | median s | min s | max s | runs |")
    print("|---|---|---|---|---|")
    for m, xs in results.items():
        print(f"| {m} | {statistics.median(xs):.3f} | {min(xs):.3f} | {max(xs):.3f} | {len(xs)} |")


if __name__ == "__main__":
    main()
