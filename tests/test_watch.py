"""The watchdog loads the snapshot machinery (the snapshot, the wait-for graph) only once the
main thread is seen waiting: a script whose main thread computes never pays for it.  It loads
it in the interval after the first full reading, so the proof attempt that may follow the next
one does not wait for it.  What only a verdict needs besides (py-spy's driver, the rules) is
not the watchdog's to load: ``mpdoctor check``'s snapshotter factory loads it with the snapshot."""

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
            early = dog.attempts == 0 and "mpdoctor.diagnose.waitfor" in sys.modules
        time.sleep(max(0.0, dog.due - time.monotonic()))
    if mode == "blocked":  # a blocked child is worth a proof attempt; it may take a while
        while not dog.attempts and time.monotonic() < deadline:
            dog.poll()
            time.sleep(0.1)
    print(mode, bool(made), early, "mpdoctor.observe.snapshot" in sys.modules,
          "mpdoctor.observe.pyspy" in sys.modules, "mpdoctor.diagnose.pool" in sys.modules)
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
    assert _run("blocked") == ["blocked", "True", "True", "True", "False", "False"]


def test_a_big_trees_fd_tables_read_in_parallel_are_the_ones_read_one_by_one(monkeypatch):
    """The snapshot reads the fd tables of a big tree in threads; the pipe facts it finds are
    those of reading them one by one."""
    import os
    import threading
    import time

    from mpdoctor.model import WaitKind
    from mpdoctor.observe import procfs, snapshot
    from mpdoctor.observe.tree import TreeReader

    r, w = os.pipe()
    # a reader of the pipe, and a writer that holds its write end and waits on its stdin
    reader_proc = subprocess.Popen([sys.executable, "-c", "import os, sys; "
                                    "os.write(1, b'r'); os.read(int(sys.argv[1]), 1)", str(r)],
                                   pass_fds=(r,), stdout=subprocess.PIPE)
    writer_proc = subprocess.Popen([sys.executable, "-c", "import os; "
                                    "os.write(1, b'w'); os.read(0, 1)"], pass_fds=(w,),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    os.close(r)
    os.close(w)
    try:
        assert reader_proc.stdout.read(1) == b"r" and writer_proc.stdout.read(1) == b"w"
        pids = [reader_proc.pid, writer_proc.pid]
        tree = TreeReader(lambda: pids)
        # both are in their read() before anything is compared (what a snapshot resolves
        # depends on what the threads wait for)
        def reading_both() -> bool:
            now = tree.read()
            return all(t is not None and t.wait.kind is WaitKind.READ
                       for t in (now.thread(p) for p in pids))

        deadline = time.monotonic() + 60
        while not reading_both():
            assert time.monotonic() < deadline, "the children never blocked in read()"
            time.sleep(0.01)

        def pipes(prefetch_min):
            monkeypatch.setattr(snapshot, "FD_PREFETCH_MIN", prefetch_min)
            snap = snapshot.Snapshotter(reader_proc.pid, tree, set()).take(tree.read(),
                                                                           tree.read())
            return sorted((p.inode, p.readers, p.writers) for p in snap.pipes)

        one_by_one = pipes(10 ** 6)
        threads = set()
        real = procfs.fds

        def fds(pid):
            threads.add(threading.get_ident())
            return real(pid)

        monkeypatch.setattr(procfs, "fds", fds)
        in_parallel = pipes(1)
        assert in_parallel == one_by_one
        assert any(writer_proc.pid in {h.pid for h in ws} for _, _, ws in one_by_one)
        if (os.cpu_count() or 1) >= 2:
            assert threading.get_ident() not in threads  # (read by the pool's threads)
    finally:
        for proc in (reader_proc, writer_proc):
            proc.kill()
            proc.wait()
            proc.stdout.close()
        writer_proc.stdin.close()
