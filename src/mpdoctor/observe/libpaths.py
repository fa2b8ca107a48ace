"""Where library code lives for the interpreter that runs the target.

A frame is the user's unless its file is inside that interpreter's standard library or
site-packages (as the interpreter itself reports them: ``sysconfig`` and ``site``), or inside
mpdoctor's own package directory.  Names prove nothing: a checkout may be called ``mpdoctor``,
a project may live under a folder called ``lib/python3``.  The catalogue's reproducers shipped
inside the package (``mpdoctor/_repro``) are the user's code when they run.

The interpreter is asked once per run, by running it (``--python``, the root process of
``attach``); mpdoctor's own interpreter needs no question.  The answer is a
:class:`~mpdoctor.model.Libraries` that goes into the snapshot, so the diagnosis stays a
function of the snapshot alone.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

from mpdoctor.libraries import (CATALOGUE, current, for_snapshot, infer,  # noqa: F401
                                is_library, make, package)
from mpdoctor.model import Libraries

#: prints, as JSON, the library directories of the interpreter that runs it (run with ``-I``: the
#: caller's PYTHONPATH and user site do not change the answer; site runs, since before Python
#: 3.11 it is what finds a virtual environment)
PROBE = r"""
import json, os, sys, sysconfig, importlib.util
import site
paths = sysconfig.get_paths()
stdlib = [paths.get(k) for k in ("stdlib", "platstdlib")]
stdlib += [os.path.dirname(os.__file__)]
sites = [paths.get(k) for k in ("purelib", "platlib")]
try:
    sites += site.getsitepackages()
except Exception:
    pass
try:
    sites.append(site.getusersitepackages())
except Exception:
    pass
spec = importlib.util.find_spec("mpdoctor")
own = list(spec.submodule_search_locations or []) if spec is not None else []
print(json.dumps({"stdlib": stdlib, "site": sites, "mpdoctor": own,
                  "version": list(sys.version_info[:2])}))
"""


@functools.lru_cache(maxsize=16)
def probe(python: str, timeout: float = 20.0) -> Optional[Dict[str, Any]]:
    """What ``python`` says about itself (``PROBE``): its version, library directories and
    mpdoctor's package there (empty: not installed); None when it does not answer as a
    Python 3 interpreter.  Asked once per path and run."""
    try:
        env = {k: v for k, v in os.environ.items() if k != "MPDOCTOR_HOOKS"}
        out = subprocess.run([python, "-I", "-c", PROBE], stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=timeout, env=env)
        data = json.loads(out.stdout.decode("utf-8", "replace")) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(data, dict) or (data.get("version") or [0])[0] != 3:
        return None
    return data


def ask(python: str) -> Optional[Libraries]:
    """Ask ``python`` where its libraries are; None when it cannot say (not a Python 3, gone)."""
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        return current()
    data = probe(python)
    if data is None:
        return None
    return make(data.get("stdlib") or (), data.get("site") or (), data.get("mpdoctor") or (),
                f"interpreter {python}")


def interpreter_of(pid: int, proc: str = "/proc") -> Optional[str]:
    """The path to ask for a running process's libraries.

    ``/proc/PID/exe`` names the real binary; a virtual environment's ``python`` is a symlink to
    it, and only the path the process was started by finds the venv (its ``pyvenv.cfg``).  So
    the command line's first word is used when it leads to the same binary; ``exe`` otherwise."""
    try:
        exe = os.readlink(f"{proc}/{pid}/exe")
    except OSError:
        return None
    if exe.endswith(" (deleted)"):
        return None
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    except OSError:
        argv0 = ""
    candidates: List[str] = []
    if argv0.startswith("/"):
        candidates.append(argv0)
    elif "/" in argv0:
        try:
            candidates.append(os.path.join(os.readlink(f"{proc}/{pid}/cwd"), argv0))
        except OSError:
            pass
    elif argv0:
        import shutil  # (only here: it brings in compression modules)

        found = shutil.which(argv0, path=_environ_path(pid, proc))
        if found:
            candidates.append(found)
    for c in candidates:
        try:
            if os.path.samefile(c, exe):
                return c
        except OSError:
            continue
    return exe


def _environ_path(pid: int, proc: str) -> Optional[str]:
    try:
        with open(f"{proc}/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"PATH="):
                    return item[5:].decode("utf-8", "surrogateescape")
    except OSError:
        pass
    return None


def of_process(pid: int) -> Optional[Libraries]:
    """The library directories of the interpreter running ``pid`` (asked, not guessed)."""
    if pid == os.getpid():
        return current()
    python = interpreter_of(pid)
    return ask(python) if python else None


# -- the fallback: snapshots recorded before they carried their libraries ----------------------
