"""The watchdog loads the snapshot machinery (py-spy's driver, the rules) only once the main
thread is seen waiting: a script whose main thread computes never pays for it.  It loads it
in the interval after the first full reading, so the proof attempt that may follow the next
one does not wait for it."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

PROGRAM = r'''
import os, subprocess, sys, time
from mpdoctor.observe.tree import TreeReader
from mpdoctor.run.watch import Watchdog

mode = sys.argv[1]
r, w = os.pipe()
code = ("import os, sys\n"
        "os.write(1, b'ready\\n')\n"
        + ("while True: pass\n" if mode == "busy" else "os.read(int(sys.argv[1]), 1)\n"))
child = subprocess.Popen([sys.executable, "-c", code, str(r)], pass_fds=(r,),
                         stdout=subprocess.PIPE)
try:
    assert child.stdout.readline() == b"ready\n"  # (the handshake: it is in its state)
    made = []

    def snapshotter():
        made.append(1)
        from mpdoctor.observe.snapshot import Snapshotter
        return Snapshotter(child.pid, reader, set())

    reader = TreeReader(lambda: [child.pid])
    dog = Watchdog(child.pid, reader, snapshotter)
    deadline = time.monotonic() + 30
    polls = 0
    early = None
    while time.monotonic() < deadline and polls < 4 and not made:
        before = time.monotonic()
        dog.poll()
        # the next poll is due one interval after this one began, whatever it loaded
        assert before + dog.interval <= dog.due <= time.monotonic() + dog.interval
        polls += 1
        if made and early is None:  # loaded by the first full reading, before any attempt
            early = dog.attempts == 0 and "mpdoctor.diagnose.registry" in sys.modules
        time.sleep(max(0.0, dog.due - time.monotonic()))
    if mode == "blocked":  # a blocked child is worth a proof attempt; it may take a while
        while not dog.attempts and time.monotonic() < deadline:
            dog.poll()
            time.sleep(0.1)
    print(mode, bool(made), early, "mpdoctor.observe.snapshot" in sys.modules,
          "mpdoctor.observe.pyspy" in sys.modules, "mpdoctor.diagnose.registry" in sys.modules)
finally:
    child.kill()
    child.wait()
'''


def _run(mode: str) -> list:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_watching_a_busy_script_loads_no_snapshot_machinery():
    assert _run("busy") == ["busy", "False", "None", "False", "False", "False"]


def test_a_waiting_main_thread_loads_it_ahead_of_the_proof_attempt():
    assert _run("blocked") == ["blocked", "True", "True", "True", "True", "True"]
