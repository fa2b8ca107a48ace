"""Pieces of the in-process watch: own threads seen from inside, and stopping processes."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading

import pytest

from mpdoctor.observe import ownthreads
from mpdoctor.run import stopping


def _in_thread(target, *args):
    """Run ``target(ready, done, *args)`` in a bare ``_thread`` thread; returns (ready, done)."""
    ready, done = threading.Event(), threading.Event()
    _thread.start_new_thread(target, (ready, done) + args)
    assert ready.wait(30)
    return ready, done


def test_native_id_of_a_thread_without_a_threading_object():
    seen = {}

    def body(ready, done):
        seen["ident"], seen["tid"] = _thread.get_ident(), threading.get_native_id()
        ready.set()
        done.wait(30)

    _, done = _in_thread(body)
    try:
        assert seen["ident"] not in {t.ident for t in threading.enumerate()}
        assert ownthreads.native_id(seen["ident"]) == seen["tid"]
    finally:
        done.set()


def test_own_stacks_are_innermost_first():
    dump = ownthreads.dump_self()
    me = next(t for t in dump.threads if t.os_tid == threading.get_native_id())
    here = sys._getframe().f_code.co_name
    assert me.frames[0].function.endswith("dump_self")
    assert any(f.function.endswith(here) for f in me.frames)


def test_library_threads_are_recognised_by_their_code():
    # a stand-in for execnet's receiver: same file suffix and function name
    source = ("def _thread_receiver(ready, done):\n"
              "    ready.set()\n"
              "    done.wait(30)\n")
    namespace: dict = {}
    exec(compile(source, "/somewhere/execnet/gateway_base.py", "exec"), namespace)
    seen = {}

    def body(ready, done):
        seen["tid"] = threading.get_native_id()
        namespace["_thread_receiver"](ready, done)

    _, done = _in_thread(body)
    pytest_timeout = pytest.importorskip("pytest_timeout")
    timer = threading.Timer(300, pytest_timeout.timeout_timer, (None, None))
    timer.start()
    other = threading.Event()
    plain = threading.Thread(target=other.wait, args=(30,))
    plain.start()
    try:
        found = ownthreads.library_threads()
        assert "execnet" in found[seen["tid"]]
        assert "pytest-timeout" in found[timer.native_id]
        assert plain.native_id not in found
        assert threading.get_native_id() not in found
    finally:
        done.set()
        timer.cancel()
        other.set()
        timer.join()
        plain.join()


def test_faulthandler_watchdog_thread_is_learnt():
    import faulthandler

    already = getattr(faulthandler.dump_traceback_later, "_mpdoctor", False)
    undo = ownthreads.track_faulthandler()
    try:
        with open(os.devnull, "w") as sink:
            faulthandler.dump_traceback_later(300, file=sink)
            try:
                found = ownthreads.library_threads()
                assert any("faulthandler" in why for why in found.values())
            finally:
                faulthandler.cancel_dump_traceback_later()
    finally:
        undo()
    assert getattr(faulthandler.dump_traceback_later, "_mpdoctor", False) == already


def test_a_native_thread_that_ended_is_forgotten(monkeypatch):
    with open("/proc/sys/kernel/pid_max") as f:
        never = int(f.read())  # no thread ever has this id
    monkeypatch.setitem(ownthreads._NATIVE_THREADS, never, ownthreads.FAULTHANDLER_WHY)
    assert never not in ownthreads.library_threads()
    assert never not in ownthreads._NATIVE_THREADS


SLEEPER = ("import signal, sys, time\n"
           "if sys.argv[1] == 'stubborn':\n"
           "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
           "print('ready', flush=True)\n"
           "time.sleep(600)\n")


@pytest.fixture
def child():
    procs = []

    def start(kind: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", SLEEPER, kind], stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout.readline() == b"ready\n"  # handshake: its handler is in place
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        proc.stdout.close()


@pytest.mark.parametrize("kind,grace", [("polite", 5.0), ("stubborn", 0.2), ("polite", 0)])
def test_stop_by_pid_and_start_time(child, kind, grace):
    proc = child(kind)
    found = stopping.descendants(os.getpid())
    assert proc.pid in found
    hit = stopping.stop([(proc.pid, found[proc.pid])], grace=grace)
    assert hit == [proc.pid]
    status = proc.wait(30)
    expected = signal.SIGTERM if kind == "polite" and grace else signal.SIGKILL
    assert status == -expected


def test_a_reused_pid_is_never_signalled(child):
    proc = child("polite")
    start = stopping.descendants(os.getpid())[proc.pid]
    assert stopping.stop([(proc.pid, start + 1)], grace=0) == []
    assert proc.poll() is None
