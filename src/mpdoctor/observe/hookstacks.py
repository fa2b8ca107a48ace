"""Python stacks from inside a process, when py-spy cannot read it from outside.

The hooks register ``faulthandler`` on a spare real-time signal, writing into an in-memory file
named ``mpdoctor-stacks-<signal>`` (``mpdoctor.hooks.faultstacks``).  Here each thread of the
process gets that signal in turn (``tgkill``), and what faulthandler wrote for it is read back
through ``/proc/PID/fd/N``: one thread's stack per signal, so each stack belongs to a known
thread.  A process without the hooks (``attach``, ``--no-hooks``) has no such file and is never
sent anything.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import time
from typing import List, Optional, Tuple

from mpdoctor.hooks.faultstacks import PREFIX
from mpdoctor.model import Frame
from mpdoctor.observe import procfs
from mpdoctor.observe.pyspy import Dump, PyThread, qualify

SOURCE = "faulthandler"
#: how long one thread may take to write its stack (it takes microseconds when it runs)
THREAD_TIMEOUT = 1.0
_MEMFD = re.compile(r"^/memfd:" + re.escape(PREFIX) + r"(\d+) \(deleted\)$")
_FRAME = re.compile(r'^\s+File "(.*)", line (\d+) in (.*)$')
_TGKILL = {"x86_64": 234, "aarch64": 131}


def target(pid: int) -> Optional[Tuple[int, int]]:
    """(signal, fd) of the hooks' stack file in ``pid``, or None when it has none."""
    for fd, link in sorted((procfs.fds(pid) or {}).items()):
        m = _MEMFD.match(link)
        if m:
            return int(m.group(1)), fd
    return None


def parse(text: str) -> Tuple[Frame, ...]:
    """faulthandler's ``File "x.py", line 3 in f`` lines, innermost first (as py-spy's)."""
    frames = []
    for line in text.splitlines():
        m = _FRAME.match(line)
        if m:
            filename, lineno, function = m.group(1), int(m.group(2)), m.group(3).strip()
            frames.append(Frame(function=qualify(function, filename, lineno),
                                filename=filename, line=lineno))
    return tuple(frames)


_libc = None


def _tgkill(pid: int, tid: int, signum: int) -> bool:
    """Send ``signum`` to one thread of another process (os offers no tgkill)."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        if hasattr(_libc, "tgkill"):
            return _libc.tgkill(pid, tid, signum) == 0
        number = _TGKILL.get(platform.machine())
        return number is not None and _libc.syscall(number, pid, tid, signum) == 0
    except (OSError, AttributeError):
        return False


def _one(pid: int, tid: int, signum: int, reader: int) -> Optional[str]:
    """Signal one thread and read what its handler wrote (None: it did not answer)."""
    start = os.fstat(reader).st_size
    if not _tgkill(pid, tid, signum):
        return None
    deadline = time.monotonic() + THREAD_TIMEOUT
    last = start
    while time.monotonic() < deadline:
        time.sleep(0.002)
        size = os.fstat(reader).st_size
        st = procfs.stat(pid, tid)
        # done once it wrote something, stopped writing, and is off the CPU again
        if size > start and size == last and (st is None or st.state != "R"):
            break
        last = size
    size = os.fstat(reader).st_size
    if size <= start:
        return None
    return os.pread(reader, size - start, start).decode("utf-8", "replace")


def dump(pid: int) -> Optional[Dump]:
    """Every thread's Python stack of ``pid`` from its hooks; None when it has no hooks."""
    found = target(pid)
    if found is None:
        return None
    signum, fd = found
    try:
        reader = os.open(f"{procfs.PROC}/{pid}/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    threads: List[PyThread] = []
    try:
        for tid in procfs.tasks(pid):
            text = _one(pid, tid, signum, reader)
            if text is None:
                continue
            frames = parse(text)
            st = procfs.stat(pid, tid)
            threads.append(PyThread(os_tid=tid, name=st.comm if st else "", thread_id=None,
                                    frames=frames))
    finally:
        os.close(reader)
    if not threads:
        return Dump(pid, error="faulthandler in the process did not answer", source=SOURCE)
    return Dump(pid, threads, source=SOURCE)
