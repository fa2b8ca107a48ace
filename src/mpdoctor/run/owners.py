"""Which child processes of this process are owned by a live object here, and so meant to
outlive the code that started them (a pool, an executor, loky's reusable executor, a manager,
a resource tracker, a fixture's server): the pytest plugin's leak check leaves those alone.

A child counts as owned when something holds the object that stands for it:

* a ``multiprocessing`` process object that something other than multiprocessing's own
  registry of children still refers to (a pool's worker list, an executor's process table, a
  module global): counted with ``sys.getrefcount``, so no heap walk is needed;
* otherwise, found in one walk over the heap (only for children the first rule left open): a
  ``subprocess.Popen`` for it that is not in ``subprocess``'s list of abandoned children, or an
  object with an integer attribute named like a pid (``ResourceTracker._pid``,
  ``ForkServer._forkserver_pid``) that names it.

Everything below an owned child is owned as well (a manager's or a worker's own children).
What a test started and let go of (its last reference gone with the test's frame) is not owned.
"""

from __future__ import annotations

import gc
import sys
import types
from typing import Dict, Iterable, List, Set, Tuple


def owned(pids: Iterable[int]) -> Dict[int, str]:
    """{pid: what owns it} for those of ``pids`` (children of this process, or further down)
    that a live object owns."""
    wanted = set(pids)
    out: Dict[int, str] = {}
    if not wanted:
        return out
    process_mod = sys.modules.get("multiprocessing.process")
    children = getattr(process_mod, "_children", None)
    if isinstance(children, set):
        # what an object that only the registry holds counts, measured the same way (the
        # interpreter's own references differ between versions: 3.14 borrows more of them)
        alone = _refcounts({object()})[0][1]
        for p, count in _refcounts(children):
            pid = _pid_of(p)
            if pid in wanted and count > alone:
                out[pid] = f"{type(p).__name__} object held by a live object"
        p = None  # the loop variable must not keep the last one alive
    rest = wanted - set(out)
    if rest:
        # a process object's own Popen stands for it: it owns nothing by itself
        stand_ins = {id(getattr(p, "_popen", None)) for p in list(children or ())}
        out.update(_walk(rest, stand_ins))
    return out


def _refcounts(registry: Set[object]) -> List[Tuple[object, int]]:
    """Each object of ``registry`` with its reference count, as seen from here."""
    return [(obj, sys.getrefcount(obj)) for obj in list(registry)]


def _pid_of(p: object) -> int:
    popen = getattr(p, "_popen", None)
    pid = getattr(popen, "pid", None)
    return pid if isinstance(pid, int) else -1


def _walk(wanted: Set[int], skip: Set[int]) -> Dict[int, str]:
    out: Dict[int, str] = {}
    subprocess_mod = sys.modules.get("subprocess")
    popen_type = getattr(subprocess_mod, "Popen", None)
    abandoned = {id(p) for p in getattr(subprocess_mod, "_active", None) or ()}
    for obj in gc.get_objects():
        try:
            if popen_type is not None and popen_type in type(obj).__mro__:
                pid = getattr(obj, "pid", None)
                if pid in wanted and id(obj) not in abandoned:
                    out[pid] = "subprocess.Popen object held by a live object"
                continue
            if id(obj) in skip or isinstance(obj, (type, types.ModuleType,
                                                   types.FunctionType)):
                continue  # a variable that holds a pid is no object owning a process
            if type(obj).__module__.startswith("mpdoctor."):
                continue  # mpdoctor's own records of the tree (snapshots, stats)
            attrs = getattr(obj, "__dict__", None)
            if type(attrs) is not dict:
                continue
            for key, value in attrs.items():
                if type(value) is int and value in wanted and key.endswith("pid"):
                    out.setdefault(value, f"{type(obj).__name__}.{key}")
        except Exception:  # noqa: BLE001 - an object whose attributes cannot be read
            continue
    return out
