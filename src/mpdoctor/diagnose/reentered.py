"""``lock-reentered``: a thread waits for a lock that it holds itself.

A non-reentrant lock (``threading.Lock``, ``multiprocessing.Lock``, a ``Semaphore(1)``) taken
twice by one thread never ends the second wait: the only thread that could release it is the
one waiting.  It happens when code runs, unseen, in the middle of a ``with lock:`` block: a
signal handler that interrupts it, a ``__del__`` run by the last reference going away, a
callback called with the lock held.

The proof is the wait-for graph's (the thread is stuck); what this rule adds is *which* lock:
the thread's own stack holds both the frame that took it and the frame that waits for it.

* the waiting frame: the innermost user frame, at ``with X:`` or ``X.acquire(...)``;
* the holding frame: an outer frame of the same thread whose line lies inside a ``with Y:``
  block (from the source);
* X and Y are the same lock: the lock's address (py-spy ``--locals``: ``self`` of
  ``SemLock.__enter__``) is that of Y's variable, or X and Y are the same expression on the
  same object (the same ``self``), the same closure variable, or the same module global.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from typing import Dict, List, Optional, Sequence, Tuple

from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import describe, listing, thread_label, who
from mpdoctor.diagnose.exit_blocked import waiting_for
from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose.waitfor import Graph
from mpdoctor.model import Finding, Frame, Process, Severity, Snapshot, Thread, WaitKind

SLUG = slug("lock-reentered",
            "a thread waits for a lock it holds itself (re-entered from a signal handler, a "
            "`__del__`, a callback)", "lock_reentered/fix_handler_sets_flag.py")

FIX = ("Never take a lock in code that can run while the same thread holds it: a signal "
       "handler should only set a flag (or an Event) that the main code checks; a __del__ "
       "should not lock (use weakref.finalize, or close explicitly); call callbacks after "
       "releasing the lock. Where re-entry is legitimate, use an RLock "
       "(threading.RLock, multiprocessing.RLock).")

_ADDRESS = re.compile(r" at (0x[0-9a-f]+)>$")


@functools.lru_cache(maxsize=64)
def _tree(filename: str) -> Optional[ast.AST]:
    try:
        with open(filename, "rb") as f:
            return ast.parse(f.read(), filename)
    except (OSError, SyntaxError, ValueError):
        return None


def _text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - any node the unparser does not know
        return ""


def acquired_at(frame: Frame) -> Optional[str]:
    """The lock expression a frame's current line takes: ``with X:`` or ``X.acquire(...)``."""
    tree = _tree(frame.filename)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.With, ast.AsyncWith)) and node.lineno == frame.line:
            return _text(node.items[0].context_expr)
        if (isinstance(node, ast.Call) and getattr(node, "lineno", 0) == frame.line
                and isinstance(node.func, ast.Attribute) and node.func.attr == "acquire"):
            return _text(node.func.value)
    return None


def held_at(frame: Frame) -> List[Tuple[str, int]]:
    """The lock expressions of the ``with`` blocks the frame's current line is inside (and
    where each was taken), innermost first."""
    tree = _tree(frame.filename)
    if tree is None:
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.With, ast.AsyncWith)) and node.body:
            first = node.body[0].lineno
            last = getattr(node, "end_lineno", None) or first
            if first <= frame.line <= last:
                for item in node.items:
                    out.append((_text(item.context_expr), node.lineno, first))
    out.sort(key=lambda x: -x[2])
    return [(text, line) for text, line, _ in out if text]


def _locals(frame: Frame) -> Dict[str, str]:
    return dict(frame.locals)


def _address(repr_: str) -> Optional[str]:
    m = _ADDRESS.search(repr_ or "")
    return m.group(1) if m else None


@dataclasses.dataclass(frozen=True)
class Reentry:
    waiting: Frame  # the innermost user frame, waiting for the lock
    holding: Frame  # the outer frame inside the with block
    expression: str  # the lock, as the holding frame names it
    taken_line: int  # the line of that with statement
    how: str  # why the two are the same lock
    between: Tuple[Frame, ...]  # the user frames between them (innermost first)


def reentry(thread: Thread) -> Optional[Reentry]:
    """The frame of this thread that holds the lock its innermost user frame waits for."""
    own = stacks.own_frames(thread)
    user = [(i, f) for i, f in enumerate(own) if not stacks.is_library(f.filename)]
    if len(user) < 2:
        return None
    wi, waiting = user[0]
    wanted = acquired_at(waiting)
    if not wanted:
        return None
    # the lock object itself, when the library frame just inside shows it (SemLock.__enter__)
    lock_address = None
    if wi > 0 and own[wi - 1].filename.endswith(("multiprocessing/synchronize.py",
                                                  "mpdoctor/hooks/locks.py")):
        lock_address = _address(_locals(own[wi - 1]).get("self", ""))
    inner_locals = _locals(waiting)
    for k, (_, outer) in enumerate(user[1:], start=1):
        for expr, line in held_at(outer):
            how = _same(expr, wanted, lock_address, waiting, inner_locals, outer)
            if how:
                between = tuple(f for _, f in user[1:k])
                return Reentry(waiting, outer, expr, line, how, between)
    return None


def _same(held: str, wanted: str, lock_address: Optional[str], waiting: Frame,
          inner_locals: Dict[str, str], outer: Frame) -> str:
    outer_locals = _locals(outer)
    if lock_address and held.isidentifier():
        if _address(outer_locals.get(held, "")) == lock_address:
            return f"{held} in {outer.function} is the very lock object ({lock_address})"
    if held != wanted:
        return ""
    base = re.match(r"[A-Za-z_][A-Za-z0-9_]*", held)
    if base is None:
        return ""
    name = base.group()
    inner, outer_repr = inner_locals.get(name, ""), outer_locals.get(name, "")
    if _address(inner) and _address(inner) == _address(outer_repr) \
            and not outer_repr.startswith("<cell"):
        return f"both frames take {held} of the same object ({name} at {_address(inner)})"
    if outer_repr.startswith("<cell") and waiting.function.startswith(
            outer.function + ".<locals>.") and name not in inner_locals:
        return (f"{waiting.function} is a closure of {outer.function}: its {name} is the "
                f"same variable")
    if (not outer_repr and not inner and held.isidentifier()
            and waiting.filename == outer.filename and outer.locals and waiting.locals):
        return f"{held} is the same module global in both frames"
    return ""


def candidates(snapshot: Snapshot) -> List[int]:
    """Processes with a thread blocked on a lock that an outer frame of its own stack may
    hold: their stacks are read again with the local variables, which tell the lock apart."""
    out = []
    with stacks.using(snapshot):  # the target interpreter's libraries, not mpdoctor's own
        for p in snapshot.processes:
            for t in p.threads:
                if t.wait.kind is not WaitKind.FUTEX or not t.wait.indefinite or not t.frames:
                    continue
                own = stacks.own_frames(t)
                user = [f for f in own if not stacks.is_library(f.filename)]
                if len(user) >= 2 and acquired_at(user[0]) and any(held_at(f)
                                                                   for f in user[1:]):
                    out.append(p.pid)
                    break
    return out


@rule(Phase.DEADLOCK, 45, (SLUG,))
def check(g: Graph) -> List[Finding]:
    findings = []
    for proc, thread in list(g.stuck_threads()):
        if thread.wait.kind is not WaitKind.FUTEX:
            continue
        r = reentry(thread)
        if r is not None:
            findings.append(_finding(g, proc, thread, r))
    return findings


def _finding(g: Graph, proc: Process, thread: Thread, r: Reentry) -> Finding:
    s = g.snapshot
    label = thread_label(proc, thread)
    wait_site = stacks.where(r.waiting, False)
    taken = f"{r.holding.filename}:{r.taken_line}"
    summary = (f"{who(s, proc.pid)} ({label}) waits at {wait_site} for `{r.expression}`, a "
               f"lock it holds itself (taken at {taken}): it can never get it")
    src = stacks.source_line(dataclasses.replace(r.holding, line=r.taken_line))
    evidence = [describe(s, proc, thread),
                f"it took {r.expression} at {taken}" + (f" ({src})" if src else "")
                + f" in {r.holding.function}, and is still inside that block at line "
                f"{r.holding.line} ({stacks.source_line(r.holding)})",
                f"then, in the same thread, {r.waiting.function} waits for it again at "
                f"{wait_site} ({stacks.source_line(r.waiting)}): {_via(r)}",
                f"the same lock: {r.how}",
                "a lock that is not reentrant is released only by its holder, and the holder is "
                "this very wait"]
    # whoever only waits for this process to end (its parent in join()) is stuck with it
    joiners = waiting_for(g, proc) if proc is not s.root else []
    if joiners:
        evidence.append("waiting for it to end: "
                        + listing([describe(s, p, t) for p, t in joiners], 3))
    data = {"site": stacks.site(r.waiting), "lock": r.expression,
            "holder": {"pid": proc.pid, "tid": thread.tid, "site": f"{taken}",
                       "function": r.holding.function},
            "waiter": {"pid": proc.pid, "tid": thread.tid, "site": stacks.site(r.waiting),
                       "function": r.waiting.function},
            "how": _kind(r)}
    return Finding(slug=SLUG, severity=Severity.ERROR, summary=summary,
                   evidence=tuple(evidence), fix=FIX,
                   pids=tuple(sorted({proc.pid} | {p.pid for p, _ in joiners})), data=data,
                   explains=((proc.pid, thread.tid),) + tuple((p.pid, t.tid)
                                                              for p, t in joiners))


def _kind(r: Reentry) -> str:
    name = r.waiting.function.rsplit(".", 1)[-1]
    if name == "__del__":
        return "finalizer"
    if not r.between and not _calls(r.holding, r.waiting):
        return "interrupt"  # nothing on the stack called it: a signal handler
    return "call"


def _calls(caller: Frame, callee: Frame) -> bool:
    """Whether the caller's current line mentions the callee's name (a direct call)."""
    name = callee.function.rsplit(".", 1)[-1]
    return name in stacks.source_line(caller)


def _via(r: Reentry) -> str:
    kind = _kind(r)
    if kind == "finalizer":
        return ("a __del__ run in the middle of the block (the last reference to an object "
                "went away there)")
    if kind == "interrupt":
        return ("it was not called from there: a signal handler (or another interrupt) ran "
                "it on top of the frame that holds the lock")
    chain: Sequence[Frame] = tuple(reversed(r.between)) + (r.waiting,)
    return "called from inside the block, through " + " > ".join(
        f"{f.function} ({f.filename.rsplit('/', 1)[-1]}:{f.line})" for f in chain)
