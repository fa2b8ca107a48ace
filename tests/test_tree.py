"""The tree reader's children cache: a list is reused only when the thread cannot have forked
since it was read."""

from __future__ import annotations

from typing import Dict, List

import pytest

from mpdoctor.observe import procfs
from mpdoctor.observe.tree import TreeReader

BLOCKED = "232 0x7 0x0 0x3 0xffffffff 0x0 0x0 0x0 0x0"  # epoll_wait on x86_64


class FakeProc:
    """/proc of a one-thread process 100, changed between readings by the test."""

    def __init__(self) -> None:
        self.runs: Dict[int, int] = {100: 5}
        self.lines: Dict[int, str] = {100: "running"}
        self.kids: Dict[int, List[int]] = {100: []}
        self.children_reads = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(procfs, "tasks", lambda pid: [pid] if pid in self.runs else [])
        monkeypatch.setattr(procfs, "run_count", lambda pid, tid: self.runs.get(tid))
        monkeypatch.setattr(procfs, "syscall_line", lambda pid, tid: self.lines.get(tid))
        monkeypatch.setattr(procfs, "children", self._children)

    def _children(self, pid: int, tid: int) -> List[int]:
        self.children_reads += 1
        return list(self.kids.get(tid, []))


def test_a_fork_by_a_thread_that_stayed_on_its_cpu_is_seen(monkeypatch):
    """Read while on a CPU, just before it forks; its run count does not go up as long as it
    stays there, so the count alone cannot tell that the cached list is out of date."""
    fake = FakeProc()
    fake.install(monkeypatch)
    reader = TreeReader(lambda: [100], arch="x86_64")
    assert reader.read().pids == [100]
    # it forked 200 and blocked, without leaving its CPU in between: count unchanged
    fake.lines[100] = BLOCKED
    fake.kids[100] = [200]
    fake.runs[200], fake.lines[200] = 1, "running"
    assert sorted(reader.read().pids) == [100, 200]


def test_a_thread_seen_blocked_with_an_unchanged_count_is_not_read_again(monkeypatch):
    fake = FakeProc()
    fake.lines[100] = BLOCKED
    fake.install(monkeypatch)
    reader = TreeReader(lambda: [100], arch="x86_64")
    reader.read()
    reader.read()
    assert fake.children_reads == 1
    fake.runs[100] = 6  # it ran: it may have forked
    reader.read()
    assert fake.children_reads == 2
