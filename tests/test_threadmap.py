"""Work over many items in a few threads: the order of results, errors, and the calling thread's
own work done while the threads run (the conclusion loads the rules while py-spy reads)."""

from __future__ import annotations

import threading

import pytest

from mpdoctor.observe import pyspy, threadmap


def test_results_come_in_the_order_of_the_items():
    assert threadmap.run(lambda x: x * x, list(range(50)), 4) == [x * x for x in range(50)]
    assert threadmap.run(lambda x: x, [], 4) == []


def test_no_more_threads_than_asked_for_work_at_once():
    lock = threading.Lock()
    now = [0]
    most = [0]
    gate = threading.Barrier(3, timeout=30)

    def work(x):
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        if x < 3:
            gate.wait()  # the first three run together: three threads exist
        with lock:
            now[0] -= 1
        return x

    assert threadmap.run(work, list(range(20)), 3) == list(range(20))
    assert most[0] == 3


def test_meanwhile_runs_while_the_threads_work():
    """The items cannot finish before ``meanwhile`` has run: it runs in the calling thread
    while they wait, not after them."""
    started = threading.Event()
    release = threading.Event()

    def work(x):
        started.set()
        assert release.wait(30), "meanwhile never ran while the work was pending"
        return x

    def meanwhile():
        assert started.wait(30)
        release.set()

    assert threadmap.run(work, [1, 2, 3], 2, meanwhile) == [1, 2, 3]


def test_an_error_of_an_item_is_raised_in_the_caller_after_every_thread_finished():
    done = []

    def work(x):
        if x == 2:
            raise ValueError("item 2")
        done.append(x)
        return x

    with pytest.raises(ValueError, match="item 2"):
        threadmap.run(work, [0, 1, 2, 3, 4], 2)
    assert sorted(done) == [0, 1, 3, 4]


def test_no_thread_at_all_is_a_runtime_error_before_any_work(monkeypatch):
    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    ran = []
    with pytest.raises(RuntimeError):
        threadmap.run(ran.append, [1, 2], 2, meanwhile=lambda: ran.append("meanwhile"))
    assert ran == []


def test_the_dumper_runs_meanwhile_once_whether_or_not_threads_start(monkeypatch):
    calls = []
    monkeypatch.setattr(pyspy, "dump_one", lambda exe, pid, *a, **k: pyspy.Dump(pid))
    dumps = pyspy.Dumper(exe="/bin/true").dump([1, 2], meanwhile=lambda: calls.append(1))
    assert sorted(dumps) == [1, 2] and calls == [1]

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    dumps = pyspy.Dumper(exe="/bin/true").dump([3], meanwhile=lambda: calls.append(2))
    assert sorted(dumps) == [3] and calls == [1, 2]
