"""``prctl(2)``, the one system call mpdoctor needs that ``os`` does not offer.

Called through ``_ctypes`` directly: ``import ctypes`` costs several milliseconds, and the
janitor calls this before it starts the script (each millisecond there is the user's).  This is
what ``ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)`` does: a C function of
libc, found with ``dlopen(NULL)``, called with C ints, returning a C int.
"""

from __future__ import annotations

import _ctypes

PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_CHILD_SUBREAPER = 36


class _Int(_ctypes._SimpleCData):  # ctypes.c_int
    _type_ = "i"


class _Function(_ctypes.CFuncPtr):  # a libc function, as ctypes.CDLL makes them
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _Libc:
    """What ``CFuncPtr((name, library))`` reads of a library: its ``_handle``."""

    _handle = 0


_prctl: list = []  # the function, once looked up


def call(option: int, value: int = 0) -> int:
    """``prctl(option, value, 0, 0, 0)``'s return value; -1 when it fails or cannot be called."""
    try:
        if not _prctl:
            _Libc._handle = _ctypes.dlopen(None, getattr(_ctypes, "RTLD_LOCAL", 0))  # type: ignore[arg-type]
            _prctl.append(_Function(("prctl", _Libc)))  # type: ignore[arg-type]
        return int(_prctl[0](option, value, 0, 0, 0))
    except (OSError, AttributeError, TypeError, ValueError):
        return -1


def set_option(option: int, value: int) -> bool:
    """Whether ``prctl(option, value)`` succeeded."""
    return call(option, value) == 0
