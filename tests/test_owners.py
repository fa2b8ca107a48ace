"""Which children a live object owns (the plugin's leak check leaves those alone)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from mpdoctor.run import owners


def _sleep():
    time.sleep(300)


class Holder:
    def __init__(self):
        self.proc = None


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_owned_and_let_go():
    ctx = multiprocessing.get_context("fork")
    holder = Holder()
    started = []
    try:
        holder.proc = ctx.Process(target=_sleep)
        holder.proc.start()
        started.append(holder.proc)

        def start_and_let_go():
            p = ctx.Process(target=_sleep)
            p.start()
            started.append(p.pid)
            return p.pid

        let_go = start_and_let_go()
        popen = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        started.append(popen)
        with ProcessPoolExecutor(1, mp_context=ctx) as ex:
            assert ex.submit(abs, -1).result() == 1
            [worker] = list(ex._processes)
            found = owners.owned([holder.proc.pid, let_go, popen.pid, worker])
            assert set(found) == {holder.proc.pid, popen.pid, worker}, found
            assert "Process object held by a live object" in found[holder.proc.pid]
    finally:
        import os
        import signal
        for item in started:
            pid = item if isinstance(item, int) else item.pid
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        popen.wait()
        holder.proc.join()
        multiprocessing.active_children()  # reaps the one let go of


def test_stopping_without_pidfds_goes_through_psutil_and_spares_a_reused_pid(monkeypatch):
    """Where pidfds are missing, psutil signals, and only the process that was named (pid and
    start time): a pid whose start time differs is never signalled."""
    from mpdoctor.observe import procfs
    from mpdoctor.run import stopping

    monkeypatch.setattr(stopping, "_pidfd", lambda pid: None)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        start = procfs.stat(child.pid).starttime
        assert stopping.stop([(child.pid, start + 1)], grace=0, kill_after=0.2) == []
        assert child.poll() is None  # another "process" by that pid: left alone
        assert stopping.stop([(child.pid, start)], grace=0) == [child.pid]
        assert child.wait(timeout=30) == -9
    finally:
        child.kill()
        child.wait()
