"""``mpdoctor attach PID``: diagnose a process tree mpdoctor did not start.

Only what the outside can see is used: /proc and py-spy.  Nothing is stopped or changed; the
tree is watched until a deadlock is proven or the timeout passes.
"""

from __future__ import annotations

import os
import time
from typing import Optional, Set

from mpdoctor.errors import PTRACE_HELP, TargetError
from mpdoctor.model import Outcome, Verdict
from mpdoctor.observe import procfs
from mpdoctor.observe.pyspy import Dumper
from mpdoctor.observe.snapshot import Snapshotter
from mpdoctor.observe.tree import TreeReader
from mpdoctor.run import engine
from mpdoctor.run.watch import Watchdog

NOT_SEEN = ("attached to a running tree: without mpdoctor's in-process hooks the report cannot "
            "show put/get call sites, pickled sizes, pickling errors or items dropped by a "
            "queue's feeder thread (run the program under `mpdoctor check` to see them)")


def check_target(pid: int) -> None:
    """Refuse, with the reason and the fix, a pid that cannot be diagnosed."""
    st = procfs.stat(pid)
    if st is None:
        raise TargetError(f"there is no process {pid}.",
                          "Pass the pid of the hung Python program (see `ps -ef`).")
    if st.state == "Z":
        raise TargetError(f"process {pid} has already exited (it is a zombie).",
                          "Pass the pid of a running process.")
    if pid == os.getpid():
        raise TargetError("mpdoctor cannot attach to itself.", "Pass another pid.")
    exe = procfs.readlink(f"{procfs.PROC}/{pid}/exe")
    maps = procfs.read_text(f"{procfs.PROC}/{pid}/maps", 1 << 16)
    if exe is None and maps is None:
        raise TargetError(f"mpdoctor may not inspect process {pid} ({st.comm}).", PTRACE_HELP)
    name = os.path.basename(exe or "")
    if not (name.startswith(("python", "pypy")) or "libpython" in (maps or "")):
        raise TargetError(f"process {pid} ({st.comm}, {exe or 'unknown executable'}) is not a "
                          "Python process.",
                          "Pass the pid of the Python program's main process (the one you "
                          "started).")
    if procfs.syscall_line(pid, pid) is None and procfs.stat(pid) is not None:
        raise TargetError(f"mpdoctor may not read what process {pid} is doing "
                          f"(/proc/{pid}/task/*/syscall is refused).", PTRACE_HELP)


def outside_inodes(pid: int) -> Set[int]:
    """Pipes and sockets of the parent of the root lead outside the tree (a shell, a terminal,
    a supervisor).  The root's own stdio is counted as outside as well."""
    out: Set[int] = set()
    st = procfs.stat(pid)
    tables = [procfs.fds(st.ppid) if st else None, procfs.fds(pid)]
    parent, own = tables
    for target in (parent or {}).values():
        inode = procfs.channel_inode(target)
        if inode is not None:
            out.add(inode)
    for fd in (0, 1, 2):
        inode = procfs.channel_inode((own or {}).get(fd, ""))
        if inode is not None:
            out.add(inode)
    return out


def attach(pid: int, timeout: float, dumper: Optional[Dumper] = None) -> Outcome:
    check_target(pid)
    dumper = dumper or Dumper()
    reader = TreeReader(lambda: [pid])
    snapshotter = Snapshotter(pid, reader, outside_inodes(pid))
    dog = Watchdog(pid, reader, snapshotter)
    notes = [NOT_SEEN]
    st = procfs.stat(pid)
    if st is not None and procfs.fds(st.ppid) is None:
        notes.append("the parent's fd table could not be read: pipes it holds are not known "
                     "to lead outside")
    started_at = time.time()
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        st = procfs.stat(pid)
        if st is None or st.state == "Z":
            return Outcome(Verdict.EXITED, started_at=started_at,
                           duration=time.monotonic() - t0,
                           notes=notes + [f"process {pid} ended while it was watched"])
        proven = dog.poll()
        now = time.monotonic()
        if proven is not None or now >= deadline:
            snapshot = proven if proven is not None else dog.snapshot_now()
            at = time.monotonic()
            snapshot, diagnosis, verdict = engine.conclude(
                snapshot, dumper, None if proven is not None and now < deadline
                else Verdict.TIMEOUT)
            if verdict is not None:
                return Outcome(verdict, diagnosis=diagnosis, snapshot=snapshot,
                               started_at=started_at, duration=at - t0,
                               proof_seconds=time.monotonic() - at, notes=notes)
        time.sleep(max(0.0, min(dog.due, deadline) - time.monotonic()))
