"""What an event flood costs mpdoctor: its peak memory and the run's time when a process of the
watched tree floods the hooks' event socket with valid events of about 60 KB (or a process
outside the tree floods it with junk), against the same run without a flood.

    python bench/event_flood.py [--events N] [--outside SECONDS] [--runs R] [--src DIR]

``--events`` (default 200,000): the flood from inside the tree, sent as fast as mpdoctor reads
(blocking sends).  ``--outside`` (default 5): a script that sleeps that long while a process
outside the tree floods the socket without pause.  ``--src``: the ``src`` directory of another
version of mpdoctor to measure instead (for a before/after comparison).

Peak memory is mpdoctor's own ``VmHWM`` (read by the script from its parent at its end, and by
this benchmark while mpdoctor runs); "end" is the time from the script's last line to
mpdoctor's exit.

Measured with ``python bench/event_flood.py --runs 3`` (x86_64, 2 shared cores, Python 3.13,
Linux 6.18, bytecode cached; medians):

| run | mpdoctor peak RSS | run time | script end to mpdoctor exit | received | kept | ignored |
|---|---|---|---|---|---|---|
| no flood | 18.6 MB | 0.80 s | 271 ms | 1 | 1 | 0 |
| 200,000 events of ~60 KB from inside | 53.8 MB | 51.46 s | 145 ms | 200,001 | 541 | 199,460 |
| sleep 5 s, no flood | 18.6 MB | 5.16 s | 33 ms | 1 | 1 | 0 |
| sleep 5 s, junk flood from outside | 20.4 MB | 5.23 s | 103 ms | 132,986 | 1 | 132,985 |

(The "no flood" run ends within mpdoctor's first poll, which loads the watch machinery: its
time varies with the machine's load from 0.25 s to 0.8 s.)  The same benchmark on the version
before the event protocol, with ``--events 5000 --runs 1 --src``: 327.6 MB for 5,000 events
(every event kept), 16.3 MB without a flood.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional

FLOOD = r"""
import json, os, socket, sys, time
count = int(sys.argv[1])
value = os.environ["MPDOCTOR_HOOKS"].split(";")[1]
addr = bytes.fromhex(value).decode("latin-1")
pending = [{"job": i, "site": "/%s.py:1" % ("p" * 3990), "left": 1, "chunksize": 1,
            "length": 1} for i in range(15)]
payload = json.dumps({"ev": "pool-worker-exit", "pid": os.getpid(), "t": time.time(),
                      "worker": os.getpid(), "exitcode": 1, "pending": pending}).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(addr)
for _ in range(count):
    s.send(payload)
def hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
print("done", len(payload), hwm(os.getppid()), time.monotonic(), flush=True)
"""

SLEEPER = r"""
import os, sys, time
print("ready", os.environ["MPDOCTOR_HOOKS"], flush=True)
time.sleep(float(sys.argv[1]))
def hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
print("done", 0, hwm(os.getppid()), time.monotonic(), flush=True)
"""

OUTSIDER = r"""
import socket, sys, select
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(bytes.fromhex(sys.argv[1]).decode("latin-1"))
s.setblocking(False)
junk = b"x" * 60000
sent = 0
try:
    while True:
        try:
            s.send(junk)
            sent += 1
        except BlockingIOError:
            select.select([], [s], [], 0.01)
except OSError:
    pass
print(sent, flush=True)
"""


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def one(code: str, arg: str, src: Optional[str], outside: bool = False) -> Dict[str, float]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "flood.py")
        with open(script, "w") as f:
            f.write(code)
        report = os.path.join(tmp, "report.json")
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "mpdoctor", "check", "--json", report,
                                 script, arg], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        peak = [0]
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(0.05):
                peak[0] = max(peak[0], _hwm(proc.pid))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        outsider = None
        assert proc.stdout is not None
        if outside:
            line = proc.stdout.readline().split()
            assert line[0] == b"ready", line
            addr = line[1].decode().split(";")[1]  # (hex: an older version's has a NUL)
            outsider = subprocess.Popen([sys.executable, "-c", OUTSIDER, addr],
                                        stdout=subprocess.PIPE)
        lines = []
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], 3600)
            if not ready:
                proc.kill()
                raise SystemExit("mpdoctor did not finish within an hour")
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        proc.wait()
        ended = time.monotonic()
        stop.set()
        watcher.join()
        sent = 0
        if outsider is not None:
            out, _ = outsider.communicate(timeout=60)
            sent = int(out or 0)
        done = [x for x in lines if x.startswith(b"done")][-1].split()
        with open(report) as f:
            counts = json.load(f).get("events") or {}
    return {"seconds": ended - t0, "end": ended - float(done[3]),
            "peak_mb": max(peak[0], int(done[2])) / 1024, "size": int(done[1]),
            "received": counts.get("received", 0), "accepted": counts.get("accepted", 0),
            "rejected": sum((counts.get("rejected") or {}).values()), "outside_sent": sent}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--outside", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--src", help="the src directory of another version of mpdoctor")
    args = ap.parse_args()
    cases = [("no flood", FLOOD, "0", False),
             (f"{args.events:,} events of ~60 KB from inside the tree", FLOOD, str(args.events),
              False),
             (f"sleep {args.outside:g} s, no flood", SLEEPER, str(args.outside), False),
             (f"sleep {args.outside:g} s, junk flood from outside the tree", SLEEPER,
              str(args.outside), True)]
    print("| run | mpdoctor peak RSS (median) | run time (median) | script end to mpdoctor "
          "exit (median) | datagrams received | kept | ignored | runs |")
    print("|---|---|---|---|---|---|---|---|")
    for name, code, arg, outside in cases:
        results: List[Dict[str, float]] = [one(code, arg, args.src, outside)
                                           for _ in range(args.runs)]

        def med(key: str, results: List[Dict[str, float]] = results) -> float:
            return statistics.median(r[key] for r in results)

        print(f"| {name} | {med('peak_mb'):.1f} MB | {med('seconds'):.2f} s | "
              f"{med('end') * 1000:.0f} ms | {med('received'):,.0f} | {med('accepted'):,.0f} | "
              f"{med('rejected'):,.0f} | {args.runs} |", flush=True)


if __name__ == "__main__":
    main()
