"""Which code is the user's, seen from inside a user's process (standard library only).

A file is library code when it is inside this interpreter's standard library or one of its
site-packages directories, or inside mpdoctor's own package, by exact directory, never by a
name found in the path (a checkout may well be called ``mpdoctor``).  The catalogue's scripts
shipped inside the package (``mpdoctor/_repro``) are the user's code when they run.

The directories are worked out on first use, not at start-up, from what the interpreter has
already loaded (``os``, ``site``): nothing is imported that the program would not import.
"""

import os
import sys

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../mpdoctor
_state = {"lib": None, "user": None}
#: filename -> library or not (a process runs a few hundred files at most)
_cache = {}  # type: ignore[var-annotated]


def _dirs():
    lib = [os.path.dirname(os.__file__), _PACKAGE]
    site = sys.modules.get("site")
    if site is not None:
        try:
            lib.extend(site.getsitepackages())
        except Exception:
            pass
        user = getattr(site, "USER_SITE", None)
        if user:
            lib.append(user)
    out = []
    for d in lib:
        if not d:
            continue
        for p in (os.path.normpath(d), os.path.realpath(d)):
            if p not in out:
                out.append(p + os.sep)
    repro = os.path.join(_PACKAGE, "_repro") + os.sep
    return tuple(out), (repro, os.path.realpath(repro[:-1]) + os.sep)


def _deepest(filename, roots):
    best = -1
    for root in roots:
        if len(root) > best and filename.startswith(root):
            best = len(root)
    return best


def is_library(filename):
    """True for library code: a pseudo-file (``<frozen ...>``, ``<string>``), or a file inside a
    library directory and not inside the catalogue nested in mpdoctor's package."""
    known = _cache.get(filename)
    if known is not None:
        return known
    if _state["lib"] is None:
        _state["lib"], _state["user"] = _dirs()
    if filename.startswith("<"):
        result = True
    else:
        lib = _deepest(filename, _state["lib"])
        result = lib >= 0 and _deepest(filename, _state["user"]) <= lib
    if len(_cache) < 4096:
        _cache[filename] = result
    return result


# -- where the user is ---------------------------------------------------------------------

def user_at(frame):
    """``(file, line)`` of the innermost user frame at or above ``frame`` (None: none)."""
    depth = 0
    while frame is not None and depth < 60:
        code = frame.f_code
        if not is_library(code.co_filename):
            return code.co_filename, frame.f_lineno
        frame = frame.f_back
        depth += 1
    return None


def user_site(frame):
    """``file:line`` of the innermost user frame at or above ``frame``."""
    at = user_at(frame)
    return "%s:%d" % at if at is not None else None


def qualname(obj):
    try:
        return "%s.%s" % (obj.__module__, obj.__qualname__)
    except Exception:
        return type(obj).__name__
