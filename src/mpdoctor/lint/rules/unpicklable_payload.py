"""unpicklable-payload: sending a process something pickle cannot carry.

Process targets (under spawn and forkserver), Pool and ProcessPoolExecutor tasks (always) are
pickled.  Functions are pickled by their importable name, so a lambda or a function defined
inside another one cannot cross; a bound method pickles its instance, which fails when the
instance holds a lock, a pool, a file or a socket.
"""

from __future__ import annotations

import ast
from typing import Iterator, List, Optional, Tuple

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule


def _why(mod: a.Module, expr: ast.expr, scope: a.ScopeNode) -> Optional[str]:
    """Why ``expr`` (a function to run in another process) cannot be pickled, or None."""
    if isinstance(expr, ast.Call):
        q = mod.qualname(expr.func) or ""
        if q.startswith("functools.partial") and expr.args:
            return _why(mod, expr.args[0], scope)
        return None
    if isinstance(expr, ast.Lambda):
        return "a lambda has no importable name"
    v = mod.value_of(expr, scope)
    if v is not None and v.kind == a.LAMBDA:
        return (f"{a.snippet(expr)} is a lambda (line {a.pos(v.node)[0]}), which has no "
                "importable name")
    local = mod.local_function(expr, scope)
    if local is not None and isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return (f"{local.name}() is defined inside {scope.name}() (line {local.lineno}), so "
                "another process cannot import it by name")
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) \
            and expr.value.id == "self" and isinstance(scope, (ast.FunctionDef,
                                                               ast.AsyncFunctionDef)):
        cls = mod.enclosing_class(scope)
        if cls is None:
            return None
        if expr.attr in cls.methods and expr.attr not in cls.attrs:
            bad = a.unpicklable_attrs(mod, cls)
            if bad:
                attr, value, _ = bad[0]
                return (f"the bound method {a.snippet(expr)} pickles its instance, and "
                        f"self.{attr} is {a.snippet(value.node, 32)}, which cannot be pickled")
            return None
        return _from_constructor(mod, cls, expr.attr)
    return None


def _from_constructor(mod: a.Module, cls: a.ClassInfo, attr: str) -> Optional[str]:
    """``self.f`` stored from ``__init__(self, f)``: a lambda passed to the constructor."""
    init = cls.methods.get("__init__")
    if init is None:
        return None
    params = a.param_names(init)
    for value, meth in cls.attrs.get(attr, []):
        if meth is not init or not isinstance(value, ast.Name) or value.id not in params:
            continue
        index = params.index(value.id) - 1  # without self
        for call in ast.walk(mod.tree):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and call.func.id == cls.node.name):
                continue
            arg: Optional[ast.expr] = call.args[index] if 0 <= index < len(call.args) else None
            arg = arg or a.keyword(call, value.id)
            if isinstance(arg, ast.Lambda):
                return (f"self.{attr} is the lambda passed to {cls.node.name}() at line "
                        f"{call.lineno}, and a lambda has no importable name")
    return None


def _instance(mod: a.Module, expr: ast.expr, scope: a.ScopeNode) -> Optional[str]:
    """``self`` sent as an argument, when the instance cannot be pickled."""
    if isinstance(expr, ast.Name) and expr.id == "self" and isinstance(
            scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        cls = mod.enclosing_class(scope)
        bad = a.unpicklable_attrs(mod, cls) if cls is not None else []
        if bad:
            attr, value, _ = bad[0]
            return f"self.{attr} is {a.snippet(value.node, 32)}, which cannot be pickled"
    return None


@rule("unpicklable-payload", "a lambda, local function or unpicklable bound method sent to "
      "another process", runtime="unpicklable-payload")
def check(mod: a.Module) -> Iterator[Hit]:
    sent: List[Tuple[a.ScopeNode, ast.expr, List[ast.expr], str]] = []
    for spawn in mod.spawns:
        if spawn.methods == frozenset({"fork"}) or spawn.target is None \
                or not mod.started(spawn):
            continue  # under fork nothing is pickled; a process never started sends nothing
        sent.append((spawn.scope, spawn.target, list(spawn.args) + [v for _, v in spawn.kwargs],
                     "Process(target=...) fails under spawn and forkserver (the default on "
                     "Linux from Python 3.14, spawn on macOS and Windows)"))
    for task in mod.tasks:
        if task.pool.kind not in (a.POOL, a.PROCESS_EXECUTOR):
            continue
        where = "pool" if task.pool.kind == a.POOL else "executor"
        sent.append((task.scope, task.func, list(task.args),
                     f"{where}.{task.method}() pickles its task under every start method"))
    for scope in mod.scopes:
        for call in mod.calls(scope):
            v = mod.value_of(call, scope)
            if v is not None and v.node is call and v.kind in (a.POOL, a.PROCESS_EXECUTOR):
                init = a.keyword(call, "initializer")
                if init is not None and v.methods != frozenset({"fork"}):
                    sent.append((scope, init, [], "the initializer fails under spawn and "
                                 "forkserver"))
    for scope, func, args, what in sent:
        why = _why(mod, func, scope)
        if why is not None:
            yield func, f"{what}: {why}; use a function defined at module level"
            continue
        for arg in args:
            why = _instance(mod, arg, scope)
            if why is not None:
                yield arg, (f"{what}, and the instance sent as an argument cannot cross: {why}; "
                            "leave it out with __getstate__, or send only what the task needs")
