"""Python stacks of other processes, from ``py-spy dump --json``, many processes in parallel."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import sysconfig
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from mpdoctor.model import Dump, Frame, PyThread  # noqa: F401 - Dump, PyThread re-exported
from mpdoctor.observe import threadmap

#: how long one dump may take before it is abandoned (a dump normally takes ~15 ms)
DUMP_TIMEOUT = 10.0


def find() -> Optional[str]:
    """py-spy next to mpdoctor's interpreter (its own dependency), else on PATH.
    ``MPDOCTOR_PYSPY`` overrides: a path, or empty to run without Python stacks."""
    forced = os.environ.get("MPDOCTOR_PYSPY")
    if forced is not None:
        return forced if forced and os.access(forced, os.X_OK) else None
    names = ["py-spy"]
    for directory in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        if directory:
            for name in names:
                path = os.path.join(directory, name)
                if os.access(path, os.X_OK):
                    return path
    import shutil  # (only here: it brings in compression modules)

    return shutil.which("py-spy")


@functools.lru_cache(maxsize=256)
def _functions(filename: str) -> Tuple[Tuple[int, int, str], ...]:
    """(first line, last line, qualified name) of every function defined in a source file."""
    import ast  # (Python < 3.11 only: later frames carry their qualified names)

    try:
        with open(filename, "rb") as f:
            tree = ast.parse(f.read(), filename)
    except (OSError, SyntaxError, ValueError):
        return ()
    out: List[Tuple[int, int, str]] = []

    def walk(node: "ast.AST", prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                out.append((child.lineno, getattr(child, "end_lineno", child.lineno) or
                            child.lineno, name))
                walk(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return tuple(out)


def qualify(function: str, filename: str, line: int) -> str:
    """``Event.wait`` where py-spy says ``wait``: before Python 3.11 frames carry no qualified
    name, so it is looked up in the source (the innermost function around the line)."""
    if "." in function or line <= 0 or not filename.endswith(".py"):
        return function
    best: Optional[Tuple[int, int, str]] = None
    for first, last, name in _functions(filename):
        if first <= line <= last and name.rsplit(".", 1)[-1] == function:
            if best is None or first >= best[0]:
                best = (first, last, name)
    return best[2] if best else function


def parse(pid: int, text: str) -> Dump:
    """Parse the JSON py-spy prints for one process."""
    try:
        data = json.loads(text)
    except ValueError:
        return Dump(pid, error="py-spy printed no JSON")
    threads = []
    for t in data if isinstance(data, list) else []:
        frames = tuple(
            Frame(function=qualify(str(f.get("name", "?")), str(f.get("filename", "?")),
                                   int(f.get("line") or 0)),
                  filename=str(f.get("filename", "?")),
                  line=int(f.get("line") or 0),
                  locals=tuple((str(v.get("name")), str(v.get("repr")))
                               for v in f.get("locals") or () if _kept(v)))
            for f in t.get("frames") or () if not _phantom(f)
        )
        tid = t.get("os_thread_id")
        if tid is None:
            continue
        threads.append(PyThread(os_tid=int(tid), name=str(t.get("thread_name") or ""),
                                thread_id=t.get("thread_id"), frames=frames,
                                active=t["active"] if isinstance(t.get("active"), bool)
                                else None))
    return Dump(pid, threads)


def _kept(v: Dict) -> bool:
    """The local variables a report uses: the hooks' own (``mpdoctor_*``: a put's site and
    size), and the identity of objects (``<Lock at 0x7f...>``: which lock a frame holds)."""
    name, value = str(v.get("name", "")), str(v.get("repr", ""))
    return name.startswith("mpdoctor_") or (value.startswith("<") and " at 0x" in value
                                            and len(value) < 120)


def _phantom(f: Dict) -> bool:
    """A frame py-spy reads from the interpreter's own entry frames on some versions (3.13:
    ``__init__`` in a file called ``__init__`` at line 0): no code runs there, and it must never
    pass for the user's line."""
    filename = str(f.get("filename") or "")
    return int(f.get("line") or 0) <= 0 and not filename.startswith(("/", "<"))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[len("Error: "):] if line.startswith("Error: ") else line
    return ""


def dump_one(exe: str, pid: int, started: Callable[[int], None],
             finished: Callable[[int], None],
             timeout: float = DUMP_TIMEOUT, with_locals: bool = False) -> Dump:
    try:
        proc = subprocess.Popen([exe, "dump", "--json", "--pid", str(pid)]
                                + (["--locals"] if with_locals else []),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        return Dump(pid, error=f"could not run py-spy: {exc}")
    started(proc.pid)
    try:
        out, errout = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return Dump(pid, error=f"py-spy did not answer within {timeout:.0f} s")
    finally:
        finished(proc.pid)
    if proc.returncode != 0:
        msg = _first_line(errout.decode("utf-8", "replace")) or f"py-spy exited {proc.returncode}"
        return Dump(pid, error=msg)
    return parse(pid, out.decode("utf-8", "replace"))


class Dumper:
    """Runs py-spy for many pids at once; remembers the pids of its own py-spy processes so
    the supervisor never mistakes them for part of the watched tree."""

    def __init__(self, exe: Optional[str] = None, workers: Optional[int] = None) -> None:
        self.exe = exe if exe is not None else find()
        self.workers = workers or max(4, 2 * (os.cpu_count() or 1))
        self.helpers: Set[int] = set()

    def dump(self, pids: Iterable[int], with_locals: bool = False,
             meanwhile: Optional[Callable[[], None]] = None) -> Dict[int, Dump]:
        """The stacks of ``pids``, read in parallel; ``meanwhile`` runs in this thread while
        py-spy reads them (the conclusion loads the rules then)."""
        pids = list(pids)
        if self.exe is None:
            if meanwhile is not None:
                meanwhile()
            return {p: _from_hooks(Dump(p, error="py-spy is not installed")) for p in pids}
        exe = self.exe

        def one(pid: int) -> Dump:
            d = dump_one(exe, pid, self.helpers.add, self.helpers.discard,
                         with_locals=with_locals)
            return d if d.threads or not d.error else _from_hooks(d)

        try:
            return {d.pid: d for d in threadmap.run(one, pids, self.workers, meanwhile)}
        except RuntimeError:
            # no thread can be started (a process limit, ulimit -u, is reached): one at a
            # time, in this thread; slower, but the report keeps its stacks
            if meanwhile is not None:
                meanwhile()
            return {p: one(p) for p in pids}


def _from_hooks(failed: Dump) -> Dump:
    """py-spy could not read the process (an interpreter it does not know, a very deep
    recursion, ptrace refused): the stacks from inside it, if the hooks run there."""
    from mpdoctor.observe import hookstacks

    d = hookstacks.dump(failed.pid)
    if d is None or not d.threads:
        return failed
    d.pyspy_error = failed.error
    return d
