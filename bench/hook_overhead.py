"""What the in-process hooks cost: Queue.put calls and a Pool.map of 10,000 tiny tasks, each
timed in a fresh interpreter with the hooks on (MPDOCTOR_HOOKS set: the wheel's .pth starts
them) and off, in interleaved A/B runs.

    python bench/hook_overhead.py [--runs N]

Needs mpdoctor installed from its wheel (the .pth file); says so if the hooks did not start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

PUT = r"""
import multiprocessing, sys, time
q = multiprocessing.Queue()
n = 200_000
put = q.put
t0 = time.perf_counter()
for i in range(n):
    put(i)
t1 = time.perf_counter()
hooked = type(q._buffer).__name__ != "deque"
print((t1 - t0) / n * 1e9, hooked)
q.cancel_join_thread()
"""

POOL = r"""
import multiprocessing, time
def f(x):
    return x
if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(f, range(100))  # warm up the workers
        t0 = time.perf_counter()
        pool.map(f, range(10_000), chunksize=1)
        t1 = time.perf_counter()
    print(t1 - t0, "n/a")
"""


def hooks_env(on: bool) -> dict:
    env = dict(os.environ)
    env.pop("MPDOCTOR_HOOKS", None)
    if on:  # an address nobody listens on: the hooks run, their events go nowhere
        from mpdoctor.hooks.boot import encode
        env["MPDOCTOR_HOOKS"] = encode("\0mpdoctor-bench-nobody")
    return env


def one(code: str, on: bool):
    out = subprocess.run([sys.executable, "-c", code], env=hooks_env(on), capture_output=True,
                         text=True, timeout=300, check=True).stdout.split()
    return float(out[0]), out[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    print("| workload | hooks off (median) | hooks on (median) | ratio | runs |")
    print("|---|---|---|---|---|")
    for name, code, unit in (("Queue.put, per call", PUT, "ns"),
                             ("Pool.map of 10,000 tiny tasks (chunksize 1)", POOL, "s")):
        off, on = [], []
        for _ in range(args.runs):
            off.append(one(code, False)[0])
            value, hooked = one(code, True)
            if hooked == "False":
                raise SystemExit("the hooks did not start: install mpdoctor from its wheel")
            on.append(value)
        a, b = statistics.median(off), statistics.median(on)
        fmt = "{:.0f} ns" if unit == "ns" else "{:.3f} s"
        print(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {b / a:.3f} | {args.runs} |")


if __name__ == "__main__":
    main()
