"""Reading Python stacks: which frames are the user's, and what library code a thread is in."""

from __future__ import annotations

import contextlib
import contextvars
import linecache
from typing import Iterable, Iterator, Optional, Tuple

from mpdoctor.model import Frame, Libraries, Snapshot, Thread
from mpdoctor import libraries as libpaths

#: the library directories of the snapshot being diagnosed or rendered (see ``using``)
_LIBRARIES: contextvars.ContextVar[Optional[Libraries]] = contextvars.ContextVar(
    "mpdoctor_libraries", default=None)


@contextlib.contextmanager
def using(snapshot: Optional[Snapshot]) -> Iterator[Libraries]:
    """Judge frames by the library directories ``snapshot`` records (or infers) while the block
    runs: the rules and renderers below take a thread, and the thread alone cannot say which
    interpreter ran it."""
    libs = libpaths.for_snapshot(snapshot) if snapshot is not None else libpaths.current()
    token = _LIBRARIES.set(libs)
    try:
        yield libs
    finally:
        _LIBRARIES.reset(token)


def libraries() -> Libraries:
    libs = _LIBRARIES.get()
    # outside ``using``: what mpdoctor's own interpreter says
    return libs if libs is not None else libpaths.current()


def is_library(filename: str) -> bool:
    """Standard library, installed packages, mpdoctor itself, or interpreter internals
    (``<frozen ...>``), by where the file is, never by its name."""
    return libpaths.is_library(filename, libraries())


def package(filename: str) -> str:
    """The package a library frame's file belongs to (``multiprocessing``, ``_pytest``)."""
    return libpaths.package(filename, libraries())


def own_frames(thread: Thread) -> Tuple[Frame, ...]:
    """The frames this process ran itself (innermost first).

    A forked child starts with a copy of its parent's stack; everything outside
    ``BaseProcess._bootstrap`` is that copy (the parent's ``p.start()`` line, say), not code the
    child is running.  When the stack lacks that frame (py-spy misreads it on some versions, or
    the child is already past it, exiting), the fork itself is the boundary: the child's own
    code starts inside ``Popen._launch`` of ``popen_fork.py``, where ``os.fork()`` returned."""
    for i, f in enumerate(thread.frames):
        if f.function.rsplit(".", 1)[-1] == "_bootstrap" and f.filename.endswith(
                "multiprocessing/process.py"):
            return thread.frames[:i + 1]
    for i, f in enumerate(thread.frames):
        if f.function.rsplit(".", 1)[-1] == "_launch" and f.filename.endswith(
                "multiprocessing/popen_fork.py") and i > 0:
            return thread.frames[:i + 1]
    return thread.frames


def user_frame(thread: Thread) -> Optional[Frame]:
    """The innermost frame in the user's own code, among the frames the process ran itself."""
    for f in own_frames(thread):
        if not is_library(f.filename):
            return f
    return None


def entry_call(thread: Thread) -> Optional[Frame]:
    """The library frame the user's code called into (the one just inside the innermost user
    frame): ``JoinableQueue.join`` rather than the ``Condition.wait`` it ends up in."""
    frames = own_frames(thread)
    for i, f in enumerate(frames):
        if not is_library(f.filename):
            return frames[i - 1] if i > 0 else None
    return None


def user_level(thread: Thread) -> bool:
    """True when the thread runs user code (or its stack is unknown): rules about a user's
    wait leave library-internal threads (a Pool's handler threads, say) alone."""
    return not thread.frames or user_frame(thread) is not None


def in_function(thread: Thread, module_suffix: str, names: Iterable[str]) -> Optional[Frame]:
    """The innermost frame of ``thread`` running one of ``names`` in a file ending with
    ``module_suffix`` (e.g. ``multiprocessing/queues.py``)."""
    wanted = set(names)
    for f in thread.frames:
        short = f.function.rsplit(".", 1)[-1]
        if f.filename.endswith(module_suffix) and (f.function in wanted or short in wanted):
            return f
    return None


def source_line(frame: Frame) -> str:
    return linecache.getline(frame.filename, frame.line).strip()


def site(frame: Optional[Frame]) -> Optional[str]:
    """``file:line`` of a frame, for the machine-readable part of a finding."""
    return f"{frame.filename}:{frame.line}" if frame is not None else None


def where(frame: Optional[Frame], with_source: bool = True) -> str:
    """``script.py:17 (p.join())``; ``?`` when unknown."""
    if frame is None:
        return "?"
    text = f"{frame.filename}:{frame.line}"
    src = source_line(frame) if with_source else ""
    return f"{text} ({src})" if src else text
