"""The cheap, frequent read of a process tree: which processes and threads exist, and what each
thread is blocked in.

One :class:`Reading` costs, per thread, a read of ``syscall`` and of ``schedstat``; children lists
are re-read only for threads that ran since the last reading (a thread that did not run cannot
have forked).  Nothing here resolves fds or memory: that happens only when the tree looks stuck
(``mpdoctor.observe.snapshot``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from mpdoctor.model import Wait, WaitKind
from mpdoctor.observe import procfs, syscalls

Key = Tuple[int, int]  # (pid, tid)


@dataclass(frozen=True)
class ThreadReading:
    pid: int
    tid: int
    line: str  # raw syscall line ("" if unreadable)
    runs: Optional[int]
    wait: Wait


@dataclass
class Reading:
    at: float  # time.monotonic()
    threads: Dict[Key, ThreadReading] = field(default_factory=dict)
    parent: Dict[int, int] = field(default_factory=dict)  # pid -> ppid, as seen in children lists
    tids: Dict[int, List[int]] = field(default_factory=dict)  # pid -> tids
    unreadable: int = 0  # threads whose syscall line could not be read (permission)

    @property
    def pids(self) -> List[int]:
        return list(self.tids)

    def thread(self, pid: int, tid: Optional[int] = None) -> Optional[ThreadReading]:
        return self.threads.get((pid, pid if tid is None else tid))


class TreeReader:
    """Reads a process tree again and again, cheaply.

    ``tops`` returns the pids at the top of the tree (the script, plus any orphan that was
    re-parented to mpdoctor as child subreaper); everything below them is part of the tree.
    ``ignore`` holds thread ids left out of every reading: the watchdog's own threads when it
    runs inside the watched process (the pytest plugin), which would otherwise always look busy.
    """

    def __init__(self, tops: Callable[[], Iterable[int]], arch: Optional[str] = None,
                 ignore: Optional[Set[int]] = None) -> None:
        self.tops = tops
        self.arch = arch or syscalls.machine()
        self.ignore: Set[int] = ignore if ignore is not None else set()
        self._children: Dict[Key, Tuple[Tuple[Optional[int], str], List[int]]] = {}
        self._tids: Dict[int, List[int]] = {}

    def read(self) -> Reading:
        reading = Reading(at=time.monotonic())
        seen: Dict[Key, Tuple[Tuple[Optional[int], str], List[int]]] = {}
        stack = [(pid, 0) for pid in self.tops()]
        while stack:
            pid, ppid = stack.pop()
            if pid in reading.tids:
                continue
            tids = [t for t in procfs.tasks(pid) if t not in self.ignore]
            if not tids:
                continue  # gone, or reaped meanwhile
            reading.tids[pid] = tids
            if ppid:
                reading.parent[pid] = ppid
            # when a thread exits, its children move to another thread of the same process
            # without that thread running: re-read every list of a process whose threads changed
            same_threads = self._tids.get(pid) == tids
            for tid in tids:
                # the run count first: the count only goes up when a thread comes onto a CPU, so
                # one that stays on it can fork after its children list was read with its count
                # unchanged.  Read before a syscall line that shows the thread off the CPU, the
                # count must go up before the thread can do anything more, forking included.
                runs = procfs.run_count(pid, tid)
                line = procfs.syscall_line(pid, tid)
                if line is None:
                    reading.unreadable += 1
                    line = ""
                wait = syscalls.decode(line, self.arch)
                reading.threads[(pid, tid)] = ThreadReading(pid, tid, line.strip(), runs, wait)
                cached = self._children.get((pid, tid))
                # the schedule count grows when a thread is put on a CPU: one that was on a CPU
                # at the last reading ("running") may have forked since without it growing
                progress = (runs, line.strip())
                if (same_threads and cached is not None and runs is not None
                        and cached[0] == progress and line.strip() not in ("", "running")
                        and wait.kind is not WaitKind.RUNNING):
                    kids = cached[1]
                else:
                    kids = procfs.children(pid, tid) or []
                seen[(pid, tid)] = (progress, kids)
                stack.extend((kid, pid) for kid in kids)
        self._children = seen
        self._tids = reading.tids
        return reading


def moved(a: Optional[ThreadReading], b: Optional[ThreadReading]) -> bool:
    """True if the thread ran (or changed what it waits for) between two readings."""
    if a is None or b is None:
        return True
    if a.runs is None or b.runs is None:
        return a.line != b.line or not a.line
    return a.runs != b.runs or a.line != b.line
