"""Measure mpdoctor against its targets and write docs/performance.md.

    python bench/run.py [--runs N] [--out docs/performance.md] [--smoke]

Six figures, each as median / min / max over interleaved runs (the machines here are shared
and noisy, so A and B alternate and the medians are compared):

1. time from the seed hang forming to mpdoctor's verdict line, for fork, spawn and forkserver,
   and pytest-timeout (--timeout=5, its default signal method) on the same hang as a reference;
2. wall time of healthy workloads under ``mpdoctor check`` against plain ``python``;
3. time from a hang forming to the full diagnosis, for trees of 16, 64 and 256 processes;
4. mpdoctor's CPU while watching 64 live processes for 10 s;
5. start-up time mpdoctor adds before the script's first line runs;
6. the hooks' start-up cost in each child process (spawn, forkserver).

``--smoke`` runs every measurement once, at the smallest size, and writes nothing unless --out
is given: a check that the bench still works, not a measurement.  Every process a measurement
starts runs in a session of its own and is killed by its process group afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable
#: the command users run: the `mpdoctor` script installed beside the interpreter (a wheel
#: install), else `python -m mpdoctor`
_COMMAND = os.path.join(os.path.dirname(PY), "mpdoctor")
MPDOCTOR = [_COMMAND] if os.access(_COMMAND, os.X_OK) else [PY, "-m", "mpdoctor"]


# -- helpers ----------------------------------------------------------------------------------

def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def stamps(path: str) -> List[float]:
    try:
        with open(path) as f:
            return [float(line.split()[1]) for line in f if line.strip()]
    except OSError:
        return []


def summary(xs: Sequence[float]) -> Tuple[float, float, float, int]:
    return statistics.median(xs), min(xs), max(xs), len(xs)


def first_line_time(cmd: List[str], env: Dict[str, str], needle: bytes,
                    limit: float = 120) -> Tuple[float, bytes]:
    """Start ``cmd`` in its own session; the time.time() at which a line of its stderr (or
    stdout) containing ``needle`` arrives.  The whole session is killed afterwards."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, cwd=ROOT)
    seen = None
    head = b""
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            head += line[:300]
            if needle in line:
                seen = time.time()
                break
    finally:
        kill_group(proc.pid)
        proc.stdout.close()
        proc.wait()
    if seen is None:
        raise SystemExit(f"never saw {needle!r} from {' '.join(cmd)}:\n{head[-2000:].decode()}")
    return seen, head


SEED = os.path.join(HERE, "seed_stamped.py")


def hang_env(tmp: str) -> Tuple[Dict[str, str], str]:
    path = os.path.join(tmp, "stamps")
    return dict(os.environ, MPDOCTOR_BENCH_STAMPS=path), path


# -- 1. time to diagnosis --------------------------------------------------------------------

def time_to_diagnosis(method: str, children: int = 10) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env, path = hang_env(tmp)
        seen, _ = first_line_time(MPDOCTOR + ["check", "--timeout", "120", SEED, "20000",
                                              method, str(children)], env, b"DEADLOCK")
        return seen - max(stamps(path))


PYTEST_CASE = textwrap.dedent('''
    import os, sys, runpy
    def test_seed_hang():
        sys.argv = ["seed", "20000", "fork"]
        runpy.run_path(os.environ["MPDOCTOR_BENCH_SEED"], run_name="__main__")
''')


def pytest_timeout_reference() -> float:
    """The same hang in a test under pytest-timeout --timeout=5: when its report appears."""
    with tempfile.TemporaryDirectory() as tmp:
        env, path = hang_env(tmp)
        env["MPDOCTOR_BENCH_SEED"] = SEED
        test = os.path.join(tmp, "test_seed.py")
        with open(test, "w") as f:
            f.write(PYTEST_CASE)
        seen, _ = first_line_time([PY, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                                   "--timeout=5", "-p", "no:mpdoctor", test], env, b"Timeout")
        return seen - max(stamps(path))


# -- 2. overhead on healthy workloads ----------------------------------------------------------

QUEUE_WORKLOAD = textwrap.dedent('''
    import multiprocessing as mp
    def produce(q, n):
        item = ITEM
        for i in range(n):
            q.put(item)
        q.put(None)
    if __name__ == "__main__":
        q = mp.Queue()
        p = mp.Process(target=produce, args=(q, COUNT))
        p.start()
        while q.get() is not None:
            pass
        p.join()
''')

WORKLOADS = {
    "1e5 small items through a Queue":
        QUEUE_WORKLOAD.replace("ITEM", "1").replace("COUNT", "100_000"),
    "1e4 items of 4 KB through a Queue":
        QUEUE_WORKLOAD.replace("ITEM", 'b"x" * 4096').replace("COUNT", "10_000"),
    "Pool.map of 1e4 tiny tasks": textwrap.dedent('''
        import multiprocessing as mp
        def f(x):
            return x + 1
        if __name__ == "__main__":
            with mp.Pool(2) as pool:
                assert sum(pool.map(f, range(10_000), chunksize=1)) == 50_005_000
    '''),
    "2e4 apply_async + get on a ThreadPool": textwrap.dedent('''
        from multiprocessing.pool import ThreadPool
        def f(x):
            return x + 1
        if __name__ == "__main__":
            with ThreadPool(2) as pool:
                assert sum(pool.apply_async(f, (i,)).get() for i in range(20_000)) == 200_010_000
    '''),
    "2e4 apply_async + get on a Pool": textwrap.dedent('''
        import multiprocessing as mp
        def f(x):
            return x + 1
        if __name__ == "__main__":
            with mp.Pool(2) as pool:
                assert sum(pool.apply_async(f, (i,)).get() for i in range(20_000)) == 200_010_000
    '''),
}

#: children started and joined one by one, for the hooks' start-up cost in each child
CHILDREN = textwrap.dedent('''
    import multiprocessing as mp, sys
    def f():
        pass
    if __name__ == "__main__":
        ctx = mp.get_context(sys.argv[1])
        for _ in range(int(sys.argv[2])):
            p = ctx.Process(target=f)
            p.start()
            p.join()
''')


def wall(cmd: List[str], limit: float = 600) -> float:
    """Wall time of ``cmd``, from start to exit.  Waited for with a blocking wait: a wait with
    a timeout (subprocess.run(timeout=...)) polls, sleeping up to 50 ms between looks, which
    would add up to 50 ms to every figure; the limit is kept by a timer that kills the run's
    process group instead."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
    timer = threading.Timer(limit, kill_group, (proc.pid,))
    timer.start()
    try:
        code = proc.wait()
    finally:
        timer.cancel()
    took = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit status {code}")
    return took


# -- 3. scale -----------------------------------------------------------------------------------

def scale(children: int) -> float:
    """A join-before-drain hang with ``children`` children (each holding one stuck process):
    hang formed -> the verdict line (the full diagnosis, stacks of every process included,
    is written before the verdict line)."""
    with tempfile.TemporaryDirectory() as tmp:
        env, path = hang_env(tmp)
        report = os.path.join(tmp, "r.txt")
        run = subprocess.run(MPDOCTOR + ["check", "--timeout", "300", "--report", report,
                                         SEED, "20000", "fork", str(children)], env=env,
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             timeout=600)
        if not os.path.exists(report):
            raise SystemExit(f"no report with {children} children (exit status {run.returncode})"
                             f": {run.stderr.decode(errors='replace')[-2000:]}")
        done = os.stat(report).st_mtime
        with open(report) as f:
            if "DEADLOCK" not in f.readline():
                raise SystemExit(f"no deadlock verdict with {children} children")
        return done - max(stamps(path))


# -- 4. watchdog CPU ------------------------------------------------------------------------

LIVE_TREE = textwrap.dedent('''
    import multiprocessing as mp, sys, time
    def tick(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.01)
    if __name__ == "__main__":
        n, seconds = int(sys.argv[1]), float(sys.argv[2])
        ps = [mp.Process(target=tick, args=(seconds,)) for _ in range(n)]
        for p in ps:
            p.start()
        print("ready", flush=True)
        for p in ps:
            p.join()
''')


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def watchdog_cpu(children: int, seconds: float) -> float:
    """Percent of one core mpdoctor itself uses while the tree runs."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "live.py")
        with open(script, "w") as f:
            f.write(LIVE_TREE)
        proc = subprocess.Popen(MPDOCTOR + ["check", script, str(children), str(seconds + 4)],
                                stdout=subprocess.PIPE, start_new_session=True, cwd=ROOT)
        try:
            assert proc.stdout.readline().startswith(b"ready")
            time.sleep(1.0)  # let the start-up settle (a measurement window, not a handshake)
            a, t0 = cpu_ticks(proc.pid), time.monotonic()
            time.sleep(seconds)
            b, t1 = cpu_ticks(proc.pid), time.monotonic()
        finally:
            kill_group(proc.pid)
            proc.stdout.close()
            proc.wait()
        return (b - a) / os.sysconf("SC_CLK_TCK") / (t1 - t0) * 100


# -- 5. start-up --------------------------------------------------------------------------------

FIRST_LINE = "import time, sys; sys.stdout.write(repr(time.time())); sys.stdout.flush()\n"


def startup(cmd_prefix: List[str], script: str) -> float:
    t0 = time.time()
    out = subprocess.run(cmd_prefix + [script], capture_output=True, check=True, cwd=ROOT,
                         timeout=120).stdout
    return float(out) - t0


# -- the run ------------------------------------------------------------------------------------

def interleaved(runs: int, *fns: Callable[[], float]) -> List[List[float]]:
    out: List[List[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            out[i].append(fn())
    return out


def row(name: str, xs: Sequence[float], unit: str, target: str = "") -> str:
    med, lo, hi, n = summary(xs)
    fmt = {"s": "{:.3f} s", "ms": "{:.1f} ms", "%": "{:.2f} %", "x": "{:.3f}"}[unit]
    return (f"| {name} | {fmt.format(med)} | {fmt.format(lo)} | {fmt.format(hi)} | {n} |"
            + (f" {target} |" if target else ""))


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=None)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--python", action="append", default=[], metavar="PATH",
                    help="another interpreter, of an environment where mpdoctor is installed "
                         "(a wheel), whose time to a verdict is measured too (repeatable)")
    ap.add_argument("--verdict-json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.verdict_json:  # (run by --python: this interpreter's times to a verdict)
        import json
        methods = ["fork", "spawn", "forkserver"]
        got = interleaved(args.runs, *[lambda m=m: time_to_diagnosis(m) for m in methods])
        print(json.dumps({"python": platform.python_version(), "command": " ".join(MPDOCTOR),
                          "times": dict(zip(methods, got))}))
        return 0
    runs = 1 if args.smoke else args.runs
    out = args.out if args.out is not None else (None if args.smoke else
                                                 os.path.join(ROOT, "docs", "performance.md"))
    lines: List[str] = []
    say = lines.append

    # 1
    methods = ["fork"] if args.smoke else ["fork", "spawn", "forkserver"]
    fns = [lambda m=m: time_to_diagnosis(m) for m in methods]
    reference = [] if args.smoke else [pytest_timeout_reference]
    results = interleaved(runs, *(fns + reference))
    say("## 1. Hang formed -> diagnosis printed (seed case, 10 children)")
    say("")
    say("| what | median | min | max | runs | target |")
    say("|---|---|---|---|---|---|")
    for m, xs in zip(methods, results):
        say(row(f"mpdoctor check, {m}", xs, "s", "<= 1.0 s"))
    if reference:
        say(row("pytest-timeout --timeout=5 (reference, its own report)", results[-1], "s",
                "-"))
        ratio = statistics.median(results[-1]) / statistics.median(results[0])
        say("")
        say(f"pytest-timeout takes {ratio:.1f} times as long as mpdoctor (fork) and reports only "
            "the parent's stack.")
    say("")
    if args.python:
        import json
        say("### On other Python versions (the same hang, each from its own wheel install)")
        say("")
        say("| Python | start method | median | min | max | runs | target |")
        say("|---|---|---|---|---|---|---|")
        for other in args.python:
            run = subprocess.run([other, os.path.abspath(__file__), "--verdict-json",
                                  "--runs", str(runs)], capture_output=True, text=True,
                                 timeout=1800, cwd=ROOT)
            if run.returncode != 0:
                raise SystemExit(f"{other}: the bench failed:\n{run.stderr[-2000:]}")
            got = json.loads(run.stdout.strip().splitlines()[-1])
            for m, xs in got["times"].items():
                med, lo, hi, n = summary(xs)
                say(f"| {got['python']} | {m} | {med:.3f} s | {lo:.3f} s | {hi:.3f} s | {n} | "
                    "<= 1.0 s |")
        say("")

    # 2
    say("## 2. Healthy workloads: wall time under `mpdoctor check` / plain `python`")
    say("")
    say("| workload | plain python (median) | mpdoctor check (median) | ratio (median of "
        "per-run ratios) | min ratio | max ratio | ratio without the fixed cost | runs | "
        "target |")
    say("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        noop = os.path.join(tmp, "noop.py")
        with open(noop, "w") as f:
            f.write("pass\n")
        noop_plain, noop_checked = interleaved(runs * 2, lambda: wall([PY, noop]),
                                               lambda: wall(MPDOCTOR + ["check", noop]))
        fixed = statistics.median(noop_checked) - statistics.median(noop_plain)
        for name, code in WORKLOADS.items():
            script = os.path.join(tmp, "w.py")
            with open(script, "w") as f:
                f.write(code)
            plain, checked = interleaved(runs, lambda s=script: wall([PY, s]),
                                         lambda s=script: wall(MPDOCTOR + ["check", s]))
            ratios = [b / a for a, b in zip(plain, checked)]
            marginal = statistics.median([(b - fixed) / a for a, b in zip(plain, checked)])
            med, lo, hi, n = summary(ratios)
            say(f"| {name} | {statistics.median(plain):.3f} s | "
                f"{statistics.median(checked):.3f} s | {med:.3f} | {lo:.3f} | {hi:.3f} | "
                f"{marginal:.3f} | {n} | <= 1.03 |")
    say("")
    say(f"The fixed cost of running under mpdoctor (an empty script: "
        f"{1000 * statistics.median(noop_plain):.0f} ms plain, "
        f"{1000 * statistics.median(noop_checked):.0f} ms under mpdoctor) is "
        f"{1000 * fixed:.0f} ms (target: <= 30 ms): mpdoctor's own interpreter and imports "
        "before the script starts, the hooks starting in the script, and the report step after "
        "it ends. 'Ratio without the fixed cost' subtracts it.")
    say("")

    # 3
    sizes = [16] if args.smoke else [16, 64, 256, 1024]
    say("## 3. Hung tree -> full diagnosis, by tree size")
    say("")
    say("| children (processes in the tree) | median | min | max | runs | target |")
    say("|---|---|---|---|---|---|")
    for n in sizes:
        count = runs if n <= 64 else min(runs, 3) if n <= 256 else 1
        xs = interleaved(max(1, count), lambda n=n: scale(n))[0]
        target = {256: "<= 1.5 s", 1024: "<= 5 s"}.get(n, "-")
        say(row(f"{n} ({n + 1})", xs, "s", target))
    say("")

    # 4
    seconds = 2.0 if args.smoke else 10.0
    n = 8 if args.smoke else 64
    xs = interleaved(1 if args.smoke else 3, lambda: watchdog_cpu(n, seconds))[0]
    say(f"## 4. mpdoctor's own CPU while watching {n} live processes for {seconds:g} s")
    say("")
    say("| what | median | min | max | runs | target |")
    say("|---|---|---|---|---|---|")
    say(row("percent of one core", xs, "%", "<= 1 %"))
    say("")

    # 5
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "first.py")
        with open(script, "w") as f:
            f.write(FIRST_LINE)
        plain, checked = interleaved(runs * 2, lambda: startup([PY], script),
                                     lambda: startup(MPDOCTOR + ["check"], script))
    added = [1000 * (b - a) for a, b in zip(plain, checked)]
    say("## 5. Start-up added before the script's first line")
    say("")
    say("| what | median | min | max | runs | target |")
    say("|---|---|---|---|---|---|")
    say(row("plain python, to the first line", [1000 * x for x in plain], "ms", "-"))
    say(row("mpdoctor check, to the first line", [1000 * x for x in checked], "ms", "-"))
    say(row("added by mpdoctor (per-run difference)", added, "ms", "<= 15 ms"))
    say("")
    say("mpdoctor's own interpreter has to start before the script's can: that alone costs about "
        f"what plain python takes to its first line ({1000 * statistics.median(plain):.1f} ms "
        "here), the floor under the added time.")
    say("")

    # 6
    count = 4 if args.smoke else 20
    child_methods = ["spawn"] if args.smoke else ["spawn", "forkserver"]
    say(f"## 6. The hooks' start-up in each child ({count} children started and joined one by "
        "one, under `mpdoctor check` with the hooks and with `--no-hooks`)")
    say("")
    say("| start method | per child, with hooks | per child, --no-hooks | hooks per child "
        "(median of per-run differences) | runs | target |")
    say("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "children.py")
        with open(script, "w") as f:
            f.write(CHILDREN)
        for m in child_methods:
            hooked, bare = interleaved(
                runs, lambda m=m: wall(MPDOCTOR + ["check", script, m, str(count)]),
                lambda m=m: wall(MPDOCTOR + ["check", "--no-hooks", script, m, str(count)]))
            per = [1000 * (a - b) / count for a, b in zip(hooked, bare)]
            say(f"| {m} | {1000 * statistics.median(hooked) / count:.1f} ms | "
                f"{1000 * statistics.median(bare) / count:.1f} ms | "
                f"{statistics.median(per):.1f} ms | {len(per)} | < 5 ms |")
    say("")

    import mpdoctor
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    header = [
        "# Performance",
        "",
        f"Measured by `python bench/run.py --runs {runs}"
        + "".join(f" --python {other}" for other in args.python)
        + f"` on {time.strftime('%Y-%m-%d')}: "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Linux {platform.release()}, mpdoctor {mpdoctor.__version__} (commit {commit}) from "
        f"`{os.path.dirname(mpdoctor.__file__)}`, run as `{' '.join(MPDOCTOR)}`"
        + (" (a wheel install)" if "site-packages" in mpdoctor.__file__ else
           " (a source checkout: its start-up is slower than a wheel's)")
        + ". Runs are interleaved (A, B, A, B, ...); machines here are shared, so read medians. "
        "Targets are the project's.",
        "",
    ]
    text = "\n".join(header + lines)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
