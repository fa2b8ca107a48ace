"""fork-with-threads: processes forked after threads were started.

``fork()`` copies only the calling thread.  A lock another thread held at that moment stays
locked in the child for ever (logging's, a cache's, the allocator's inside a C library).
Python 3.12+ warns (DeprecationWarning) when a process with threads forks; 3.14 made
forkserver the default start method on Linux for this reason.
"""

from __future__ import annotations

import ast
from typing import Iterator, List, Optional, Tuple

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule

_FORKS = ("os.fork", "os.forkpty", "pty.fork")
_EVENT_NAMES = frozenset(("fork", "forkpty", "Pool", "ThreadPool", "start", "join", "submit",
                          "map", "shutdown"))


def _forks(methods: a.Methods) -> Optional[str]:
    if "fork" in methods:
        return "the fork start method"
    if None in methods:
        return "the default start method (fork on Linux up to Python 3.13)"
    return None


def _events(mod: a.Module, scope: a.ScopeNode) -> Tuple[List[Tuple[ast.AST, str]],
                                                         List[ast.AST], List[Tuple[ast.AST, str]]]:
    """Thread starts (with their name), thread joins, and forks in ``scope``."""
    starts: List[Tuple[ast.AST, str]] = []
    joins: List[ast.AST] = []
    forks: List[Tuple[ast.AST, str]] = []
    for call in mod.calls(scope):
        if a.last_name(call.func) not in _EVENT_NAMES:
            continue  # cheap: only these calls start, join or fork anything
        q = mod.qualname(call.func)
        if q in _FORKS:
            forks.append((call, f"{q}()"))
            continue
        v = mod.value_of(call, scope)
        if v is not None and v.node is call and not v.element:
            if v.kind == a.THREAD_POOL:
                starts.append((call, f"a thread pool (line {call.lineno})"))
            elif v.kind == a.POOL:
                how = _forks(v.methods)
                if how:
                    forks.append((call, f"Pool() with {how}"))
        mc = a.method_call(call)
        if mc is None:
            continue
        rv = mod.value_of(mc[0], scope)
        if rv is None:
            continue
        if rv.kind == a.THREAD and mc[1] == "start":
            starts.append((call, _thread_name(mc[0], call)))
        elif rv.kind == a.THREAD and mc[1] == "join" and not rv.element:
            joins.append(call)
        elif rv.kind == a.THREAD_EXECUTOR and mc[1] in a.EXECUTOR_TASK_METHODS:
            starts.append((call, f"a thread pool executor (line {call.lineno})"))
        elif rv.kind == a.THREAD_EXECUTOR and mc[1] == "shutdown":
            joins.append(call)
        elif rv.kind == a.PROCESS and mc[1] == "start":
            how = _forks(rv.methods)
            if how:
                forks.append((call, f"{a.snippet(mc[0], 24)}.start() with {how}"))
    # leaving `with ThreadPoolExecutor() as ex:` joins its threads
    for node in mod.nodes(scope):
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                v = mod.value_of(item.context_expr, scope)
                if v is not None and v.kind in (a.THREAD_EXECUTOR, a.THREAD_POOL):
                    joins.append(_End(node))
    return starts, joins, forks


def _thread_name(receiver: ast.expr, start: ast.Call) -> str:
    target = a.keyword(receiver, "target") if isinstance(receiver, ast.Call) else None
    if target is not None:
        return f"the thread running {a.snippet(target, 24)} (started at line {start.lineno})"
    return f"a thread ({a.snippet(receiver, 24)}, started at line {start.lineno})"


class _End(ast.AST):
    """A position just after a block (for ordering)."""

    def __init__(self, block: ast.AST) -> None:
        super().__init__()
        self.lineno, self.col_offset = a.end_pos(block)


def _import_time_threads(mod: a.Module) -> List[Tuple[ast.AST, str]]:
    starts, _, _ = _events(mod, mod.tree)
    out = []
    for node, what in starts:
        if not any(isinstance(anc, ast.If) and a.is_main_guard(anc.test)
                   for anc in mod.ancestors(node)):
            out.append((node, what))
    return out


@rule("fork-with-threads", "a process is forked after threads were started",
      runtime="fork-with-lock-held")
def check(mod: a.Module) -> Iterator[Hit]:
    imported = _import_time_threads(mod)
    for scope in mod.scopes:
        starts, joins, forks = _events(mod, scope)
        for fork, what in forks:
            running = [(s, w) for s, w in starts if a.pos(s) < a.pos(fork)
                       and not any(a.pos(s) < a.pos(j) < a.pos(fork) for j in joins)]
            if not running and scope is not mod.tree:
                running = imported
            if not running:
                continue
            thread = running[-1][1]
            yield fork, (
                f"{what} while {thread} may still run: the child gets only the forking thread, "
                "and a lock another thread holds stays locked in it for ever; start the "
                "processes before the threads, or use the spawn or forkserver start method")
