"""Find the descendants of a process and stop given ones, by pid, safely.

A process is named by its pid *and* its start time (``/proc/PID/stat``): a pid that was reused
by a new process is never signalled.  Where the kernel offers pidfds (Linux 5.3, Python 3.9),
signals go through a pidfd opened after that check, which closes the last race, and waiting for
an exit is a ``select`` on the pidfds rather than a polling loop; elsewhere a ``psutil.Process``
taken after the check does the signalling (it checks the process's identity first).  Waiting
never reaps (``psutil.wait_procs`` would, for this process's own children, and take the exit
status away from their ``multiprocessing.Process`` objects).
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import Dict, Iterable, List, Optional, Tuple

import psutil

from mpdoctor.debug import log
from mpdoctor.observe import procfs

Ident = Tuple[int, int]  # (pid, start time in clock ticks after boot)

_GONE = ("Z", "X", "x")


def descendants(pid: int) -> Dict[int, int]:
    """Every live descendant of ``pid`` (zombies excluded), as ``{pid: start time}``."""
    out: Dict[int, int] = {}
    stack = [pid]
    seen = {pid}
    while stack:
        parent = stack.pop()
        for tid in procfs.tasks(parent):
            for kid in procfs.children(parent, tid) or ():
                if kid in seen:
                    continue
                seen.add(kid)
                st = procfs.stat(kid)
                if st is None:
                    continue
                if st.state not in _GONE:
                    out[kid] = st.starttime
                stack.append(kid)  # a zombie's children were re-parented; nothing below it
    return out


def alive(pid: int, start: int) -> bool:
    st = procfs.stat(pid)
    return st is not None and st.starttime == start and st.state not in _GONE


def _pidfd(pid: int) -> Optional[int]:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:
        return None


class _Target:
    def __init__(self, pid: int, start: int) -> None:
        self.pid = pid
        self.start = start
        self.fd = _pidfd(pid)
        self.proc: Optional[psutil.Process] = None
        # checked after the pidfd is open: the pidfd names this very process from now on
        self.valid = alive(pid, start)
        if self.valid and self.fd is None:
            # no pidfds here: psutil's handle, taken after the start-time check, refuses to
            # signal a process that has since been replaced by another with the same pid
            try:
                self.proc = psutil.Process(pid)
            except psutil.Error:
                self.valid = False

    def signal(self, signum: int) -> bool:
        if not self.valid:
            return False
        try:
            if self.fd is not None and hasattr(signal, "pidfd_send_signal"):
                signal.pidfd_send_signal(self.fd, signum)
            elif self.proc is not None:
                self.proc.send_signal(signum)
            else:
                return False
            return True
        except (OSError, psutil.Error):
            return False

    def gone(self) -> bool:
        return not self.valid or not alive(self.pid, self.start)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _wait(targets: List[_Target], deadline: float) -> List[_Target]:
    """Wait until every target has exited (become a zombie or vanished) or the deadline passes;
    returns those still alive."""
    left = [t for t in targets if not t.gone()]
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        fds = [t.fd for t in left if t.fd is not None]
        if len(fds) == len(left):
            try:
                select.select(fds, [], [], remaining)  # a pidfd is readable once it has exited
            except InterruptedError:
                pass
        else:
            time.sleep(min(remaining, 0.01))  # no pidfds on this system: poll /proc
        left = [t for t in left if not t.gone()]
    return left


def stop(processes: Iterable[Ident], grace: float = 1.0, kill_after: float = 5.0) -> List[int]:
    """Stop the given processes: SIGTERM, then SIGKILL to those still alive after ``grace``
    seconds (``grace=0``: SIGKILL at once); wait up to ``kill_after`` more seconds for them to
    die.  Nothing is reaped here (their parents do that).  Returns the pids that were signalled.
    """
    targets = [_Target(pid, start) for pid, start in processes]
    log("stop", f"stopping {len(targets)} processes "
                f"({'SIGTERM, then SIGKILL after %gs' % grace if grace > 0 else 'SIGKILL'}): "
                f"{', '.join(str(t.pid) for t in targets[:10])}")
    try:
        hit: List[int] = []
        if grace > 0:
            hit = [t.pid for t in targets if t.signal(signal.SIGTERM)]
            left = _wait(targets, time.monotonic() + grace)
        else:
            left = [t for t in targets if not t.gone()]
        for t in left:
            if t.signal(signal.SIGKILL) and t.pid not in hit:
                hit.append(t.pid)
        _wait(left, time.monotonic() + kill_after)
        return hit
    finally:
        for t in targets:
            t.close()


def reap(pids: Iterable[int]) -> None:
    """Collect the exit status of those ``pids`` that are dead children of this process.

    Children started by ``multiprocessing`` are reaped through its own bookkeeping, so their
    ``Process`` objects learn their exit code (a bare ``waitpid`` would leave them believing the
    child still runs)."""
    import sys

    mp = sys.modules.get("multiprocessing")
    if mp is not None:
        try:
            mp.active_children()  # polls every Process it started; reaps the dead ones
        except Exception:  # noqa: BLE001 - best effort: never raise into the test session
            pass
    me = os.getpid()
    for pid in pids:
        st = procfs.stat(pid)
        if st is None or st.ppid != me or st.state not in ("Z", "X"):
            continue
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
