"""missing-main-guard: processes started while the module is being imported.

Under spawn and forkserver (the default on Linux from Python 3.14, spawn on macOS and Windows)
every child imports the main module again.  Code at module level that starts processes then
runs in each child too, where multiprocessing refuses ("An attempt has been made to start a new
process before the current process has finished its bootstrapping phase").
"""

from __future__ import annotations

import ast
import os
from typing import Dict, Iterator, List, Optional, Set, Union

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule

#: making one of these starts processes at once
_STARTS = (a.POOL, a.PROCESS_EXECUTOR, a.MANAGER)


def _starter(mod: a.Module, call: ast.Call, scope: a.ScopeNode) -> Optional[str]:
    """What ``call`` starts, if it starts processes: ``"Pool(...)"``, ``"p.start()"``."""
    v = mod.value_of(call, scope)
    if v is not None and v.node is call and v.kind in _STARTS and not v.element:
        if v.kind == a.PROCESS_EXECUTOR:
            return None  # an executor starts its workers only when work is submitted
        return f"{a.last_name(call.func)}(...)"
    mc = a.method_call(call)
    if mc is not None and mc[1] == "start":
        rv = mod.value_of(mc[0], scope)
        if rv is not None and rv.kind == a.PROCESS:
            return f"{a.dotted(mc[0]) or 'Process(...)'}.start()"
    if mc is not None and mc[1] in a.EXECUTOR_TASK_METHODS:
        rv = mod.value_of(mc[0], scope)
        if rv is not None and rv.kind == a.PROCESS_EXECUTOR and not rv.element:
            return f"{a.dotted(mc[0]) or 'executor'}.{mc[1]}()"
    return None


def _methods_of(mod: a.Module, call: ast.Call, scope: a.ScopeNode) -> a.Methods:
    v = mod.value_of(call, scope)
    if v is not None and v.node is call:
        return v.methods
    mc = a.method_call(call)
    if mc is not None:
        rv = mod.value_of(mc[0], scope)
        if rv is not None:
            return rv.methods
    return a.DEFAULT


class _Starts:
    """Which module-level functions start processes (directly or through another one)."""

    def __init__(self, mod: a.Module) -> None:
        self.mod = mod
        self.memo: Dict[str, Optional[ast.Call]] = {}

    def first(self, name: str, seen: Set[str]) -> Optional[ast.Call]:
        if name in self.memo:
            return self.memo[name]
        func = self.mod.functions.get(name)
        if func is None or name in seen:
            return None
        seen = seen | {name}
        found: Optional[ast.Call] = None
        for call in self.mod.calls(func):
            if _starter(self.mod, call, func) is not None and \
                    _methods_of(self.mod, call, func) != frozenset({"fork"}):
                found = call
                break
            if isinstance(call.func, ast.Name) and self.first(call.func.id, seen) is not None:
                found = call
                break
        self.memo[name] = found
        return found


def _module_level(body: List[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import time, outside the ``__main__`` guard."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, ast.If):
            if a.is_main_guard(stmt.test):
                yield from _module_level(stmt.orelse)
                continue
            if isinstance(stmt.test, ast.UnaryOp) and isinstance(stmt.test.op, ast.Not) \
                    and a.is_main_guard(stmt.test.operand):
                continue  # `if not __name__ == "__main__": ...` runs only when imported
            yield ast.If(test=stmt.test, body=[], orelse=[])  # the test itself runs
            yield from _module_level(stmt.body)
            yield from _module_level(stmt.orelse)
            continue
        if isinstance(stmt, ast.Try):
            yield from _module_level(stmt.body + stmt.orelse + stmt.finalbody)
            for h in stmt.handlers:
                yield from _module_level(h.body)
            continue
        yield stmt


Stmt = Union[ast.stmt, ast.expr]


@rule("missing-main-guard", "processes started at module level, outside "
      "`if __name__ == \"__main__\":`", runtime="missing-main-guard")
def check(mod: a.Module) -> Iterator[Hit]:
    if os.path.basename(mod.path) == "__main__.py":
        return  # spawn never re-runs a package's __main__.py in the children
    starts = _Starts(mod)
    for stmt in _module_level(mod.tree.body):
        for call in a.calls(stmt):
            what = _starter(mod, call, mod.tree)
            methods = _methods_of(mod, call, mod.tree)
            via = ""
            if what is None and isinstance(call.func, ast.Name):
                inner = starts.first(call.func.id, set())
                if inner is not None:
                    what = f"{call.func.id}()"
                    via = (f", which starts processes (line {inner.lineno}:"
                           f" {a.snippet(inner)})")
                    methods = a.DEFAULT
            if what is None or methods == frozenset({"fork"}):
                continue
            yield call, (
                f"{what} runs at module level{via}, outside `if __name__ == \"__main__\":`: "
                "under spawn and forkserver (the default on Linux from Python 3.14, and spawn "
                "on macOS and Windows) every child imports this module again and fails here; "
                "move it under the guard")
