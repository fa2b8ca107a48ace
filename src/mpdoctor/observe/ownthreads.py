"""The threads of the calling process, seen from inside: their kernel thread ids, their Python
stacks (``sys._current_frames()``, no py-spy needed), and which of them belong to well-known
library machinery rather than to the code under test.

Used when the watchdog runs inside the watched process (the pytest plugin): py-spy cannot attach
to its own parent, and the proof must leave out threads that are known never to touch the objects
a test waits on.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import types
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from mpdoctor.model import Frame
from mpdoctor.observe import procfs
from mpdoctor.observe.pyspy import Dump, PyThread, qualify

#: deepest stack walked when converting frames (a runaway recursion is cut, not copied)
MAX_FRAMES = 256


def _clock_tid(ident: int) -> Optional[int]:
    """The kernel thread id of the thread ``ident`` (a ``pthread_t``), decoded from its CPU-time
    clock id.  The kernel ABI encodes a thread's CPU clock as ``(~tid << 3) | 6``
    (``CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED``), and ``pthread_getcpuclockid`` returns exactly
    that on glibc and musl.  This works for threads started with ``_thread.start_new_thread``,
    which have no ``threading.Thread`` object and so no ``native_id``."""
    try:
        clock = time.pthread_getcpuclockid(ident)
    except (AttributeError, OSError, OverflowError, ValueError):
        return None
    if clock & 7 != 6:
        return None
    return ~(clock >> 3)


_DECODE_WORKS: Optional[bool] = None


def _decode_works() -> bool:
    """The clock-id decoding checked once against a thread whose id is known (the caller)."""
    global _DECODE_WORKS
    if _DECODE_WORKS is None:
        _DECODE_WORKS = _clock_tid(threading.get_ident()) == threading.get_native_id()
    return _DECODE_WORKS


def native_id(ident: int) -> Optional[int]:
    """Kernel thread id of the Python thread ``ident`` of this process, or ``None``."""
    thread = threading._active.get(ident)  # type: ignore[attr-defined]
    tid = getattr(thread, "native_id", None)
    if tid is not None:
        return tid
    if not _decode_works():
        return None
    tid = _clock_tid(ident)
    if tid is None or not os.path.exists(f"/proc/self/task/{tid}"):
        return None
    return tid


def frames(frame: Optional[types.FrameType]) -> Tuple[Frame, ...]:
    """A Python stack as model frames, innermost first (the order py-spy uses)."""
    out: List[Frame] = []
    while frame is not None and len(out) < MAX_FRAMES:
        code = frame.f_code
        line = frame.f_lineno or 0
        # before 3.11 a code object has no qualified name: look it up as for py-spy's frames
        name = getattr(code, "co_qualname", None) or qualify(code.co_name, code.co_filename,
                                                             line)
        out.append(Frame(function=name, filename=code.co_filename, line=line))
        frame = frame.f_back
    return tuple(out)


def dump_self(skip: Iterable[int] = ()) -> Dump:
    """The Python stacks of this process's threads, as py-spy would report them (minus the
    kernel thread ids in ``skip``)."""
    skip = set(skip)
    names = {t.ident: t.name for t in threading.enumerate()}
    threads = []
    for ident, frame in sys._current_frames().items():
        tid = native_id(ident)
        if tid is None or tid in skip:
            continue
        threads.append(PyThread(os_tid=tid, name=names.get(ident, ""), thread_id=ident,
                                frames=frames(frame)))
    return Dump(os.getpid(), threads, source="sys._current_frames")


# --------------------------------------------------------------------------------------------
# library threads that never touch the objects of the code under test

#: (file suffix, function) of a frame that marks a thread as library machinery, and why
KNOWN_FRAMES = (
    ("execnet/gateway_base.py", "_thread_receiver",
     "execnet's receiver thread (pytest-xdist worker): it reads the controller's messages from "
     "the worker's stdin and queues them for the main thread"),
)


def _marked(frame: Optional[types.FrameType]) -> str:
    depth = 0
    while frame is not None and depth < MAX_FRAMES:
        code = frame.f_code
        for suffix, function, why in KNOWN_FRAMES:
            if code.co_name == function and code.co_filename.replace("\\", "/").endswith(suffix):
                return why
        frame = frame.f_back
        depth += 1
    return ""


def _timer_of(thread: threading.Thread) -> str:
    function = getattr(thread, "function", None)
    if isinstance(thread, threading.Timer) and function is not None:
        function = getattr(function, "__wrapped__", function)
        if (getattr(function, "__module__", "") == "pytest_timeout"
                and getattr(function, "__name__", "") == "timeout_timer"):
            return ("pytest-timeout's timer thread (timeout method 'thread'): it sleeps until the "
                    "test's deadline, then dumps stacks and ends the process")
    return ""


#: kernel thread ids of library threads that run no Python code (no thread state, so no frames
#: to recognise them by), learnt when they were started; see :func:`track_faulthandler`
_NATIVE_THREADS: Dict[int, str] = {}

FAULTHANDLER_WHY = ("faulthandler's watchdog thread (dump_traceback_later, e.g. pytest's "
                    "faulthandler_timeout): it waits for its deadline, then writes tracebacks")


def _python_tids() -> Set[int]:
    out = set()
    for ident in sys._current_frames():
        tid = native_id(ident)
        if tid is not None:
            out.add(tid)
    return out


def track_faulthandler() -> Callable[[], None]:
    """Learn the kernel thread id of the watchdog thread ``faulthandler.dump_traceback_later``
    starts: it is the thread that appears during the call and runs no Python code.  Returns
    the function that undoes the tracking.  (The thread is created before the call returns; it
    is a C thread that only waits for its deadline or its cancellation.)"""
    import faulthandler

    original = faulthandler.dump_traceback_later
    if getattr(original, "_mpdoctor", False):
        return lambda: None

    def dump_traceback_later(*args: Any, **kwargs: Any) -> Any:
        before = set(procfs.tasks(os.getpid()))
        try:
            return original(*args, **kwargs)
        finally:
            for tid in set(procfs.tasks(os.getpid())) - before - _python_tids():
                _NATIVE_THREADS[tid] = FAULTHANDLER_WHY

    dump_traceback_later._mpdoctor = True  # type: ignore[attr-defined]
    dump_traceback_later.__wrapped__ = original  # type: ignore[attr-defined]
    dump_traceback_later.__doc__ = original.__doc__
    faulthandler.dump_traceback_later = dump_traceback_later  # type: ignore[assignment]

    def undo() -> None:
        if faulthandler.dump_traceback_later is dump_traceback_later:
            faulthandler.dump_traceback_later = original  # type: ignore[assignment]

    return undo


def library_threads() -> Dict[int, str]:
    """Kernel thread ids of this process's well-known library threads, and what each is.

    Leaving them out of the proof is sound because none of them ever writes to a pipe, releases
    a lock or ends a process that the code under test created: they cannot end any of its waits
    (ending the whole process on a timeout, as pytest-timeout and faulthandler may, is not a
    wait ending).
    A thread that merely *looks* idle is never left out on that ground alone; only threads
    recognised by their code are.
    """
    out: Dict[int, str] = {}
    by_ident = {t.ident: t for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        thread = by_ident.get(ident)
        why = (_timer_of(thread) if thread is not None else "") or _marked(frame)
        if why:
            tid = native_id(ident)
            if tid is not None:
                out[tid] = why
    for tid, why in list(_NATIVE_THREADS.items()):
        if os.path.exists(f"/proc/self/task/{tid}"):
            out[tid] = why
        else:
            _NATIVE_THREADS.pop(tid, None)  # ended (cancelled or fired)
    return out
