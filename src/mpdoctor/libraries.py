"""Which files are library code, for the interpreter that ran the target: pure functions of a
:class:`~mpdoctor.model.Libraries` (the directories that interpreter reported, recorded in the
snapshot), so that the diagnosis and the reports stay functions of the snapshot.  Asking an
interpreter is ``mpdoctor.observe.libpaths``'s job."""

from __future__ import annotations

import functools
import os
import sys
from typing import Iterable, List, Optional, Sequence

from mpdoctor.model import Libraries, Snapshot

#: the folder of the catalogue inside an installed mpdoctor package
CATALOGUE = "_repro"


def _clean(paths: Iterable[Optional[str]]) -> tuple:
    out: List[str] = []
    for p in paths:
        if not p or not os.path.isabs(p):
            continue
        p = os.path.normpath(p)
        for q in (p, os.path.realpath(p)):
            if q not in out:
                out.append(q)
    return tuple(out)


def _own_dirs() -> List[str]:
    import mpdoctor
    return [os.path.dirname(os.path.abspath(mpdoctor.__file__))]


def make(stdlib: Iterable[Optional[str]], site: Iterable[Optional[str]],
         own: Iterable[Optional[str]], source: str) -> Libraries:
    """Libraries from the directories an interpreter reported, plus the controller's own
    mpdoctor package (its frames appear in the pytest plugin's process)."""
    mp = _clean([*own, *_own_dirs()])
    return Libraries(stdlib=_clean(stdlib), site=_clean(site), mpdoctor=mp,
                     user=_clean(os.path.join(d, CATALOGUE) for d in mp), source=source)


@functools.lru_cache(maxsize=None)
def current() -> Libraries:
    """The library directories of the interpreter mpdoctor runs on (no process started)."""
    import site
    import sysconfig
    paths = sysconfig.get_paths()
    sites = [paths.get("purelib"), paths.get("platlib")]
    try:
        sites += site.getsitepackages()
    except Exception:  # some embedded or patched interpreters lack it
        pass
    try:
        sites.append(site.getusersitepackages())
    except Exception:
        pass
    return make([paths.get("stdlib"), paths.get("platstdlib"), os.path.dirname(os.__file__)],
                sites, [], f"interpreter {sys.executable}")


#: modules every multiprocessing program runs: where they are is where the stdlib is
_STDLIB_MARKERS = ("threading.py", "selectors.py") + tuple(
    f"multiprocessing/{m}.py" for m in (
        "process", "util", "queues", "connection", "pool", "synchronize", "context", "spawn",
        "forkserver", "reduction", "resource_tracker", "managers", "popen_fork",
        "popen_spawn_posix", "popen_forkserver", "heap", "sharedctypes"))
_OWN_MARKERS = tuple(f"mpdoctor/hooks/{m}.py" for m in (
    "boot", "channel", "errors", "queues", "pool", "processes", "timers", "origin")) + (
    "mpdoctor/pytest_plugin.py",)


def _strip(filename: str, suffix: str) -> Optional[str]:
    if filename.endswith("/" + suffix):
        return filename[:-len(suffix) - 1]
    return None


def infer(snapshot: Snapshot) -> Libraries:
    """Libraries for a snapshot that does not name them: the stdlib is the directory its
    frames of ``threading.py`` or ``multiprocessing/`` come from; mpdoctor's package, the
    directory of its hooks' frames; plus the directories of mpdoctor's own interpreter."""
    stdlib: List[str] = []
    own: List[str] = []
    for p in snapshot.processes:
        for t in p.threads:
            for f in t.frames:
                for markers, into in ((_STDLIB_MARKERS, stdlib), (_OWN_MARKERS, own)):
                    for m in markers:
                        d = _strip(f.filename, m)
                        if d is not None:
                            d = d if into is stdlib else os.path.join(d, "mpdoctor")
                            if d not in into:
                                into.append(d)
    here = current()
    return make(stdlib + list(here.stdlib), here.site, own, "inferred from the stacks")


def for_snapshot(snapshot: Snapshot) -> Libraries:
    return snapshot.libraries if snapshot.libraries is not None else infer(snapshot)


def is_library(filename: str, libraries: Libraries) -> bool:
    """True when ``filename`` is library code: a pseudo-file (``<frozen ...>``, ``<string>``),
    or inside a library directory and not inside a user directory nested in it (the
    catalogue's reproducers in ``site-packages/mpdoctor/_repro``)."""
    if filename.startswith("<"):
        return True
    if not filename.startswith("/"):
        return False
    best_lib = _deepest(filename, libraries.stdlib + libraries.site + libraries.mpdoctor)
    if best_lib < 0:
        return False
    return _deepest(filename, libraries.user) <= best_lib


def package(filename: str, libraries: Libraries) -> str:
    """The top-level package or module a library file belongs to (``multiprocessing``,
    ``_pytest``, ``threading``), from its path under the library directory holding it."""
    if filename.startswith("<"):
        return filename.strip("<>").split()[-1] if filename.strip("<>") else filename
    best = ""
    for root in libraries.stdlib + libraries.site + libraries.mpdoctor:
        if filename.startswith(root + "/") and len(root) > len(best):
            best = root
    if not best:
        return os.path.basename(filename)
    if best in libraries.mpdoctor:
        return "mpdoctor"
    top = filename[len(best) + 1:].split("/", 1)[0]
    return top[:-3] if top.endswith(".py") else top


def _deepest(filename: str, roots: Sequence[str]) -> int:
    """Length of the longest root that contains ``filename`` (as a directory), else -1."""
    best = -1
    for root in roots:
        if len(root) > best and (filename.startswith(root + "/") or
                                 (root == "/" and filename.startswith("/"))):
            best = len(root)
    return best
