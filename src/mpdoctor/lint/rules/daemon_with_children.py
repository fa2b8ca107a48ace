"""daemon-with-children: a Pool task (or a daemon process) that starts processes of its own.

Pool workers and ``Process(daemon=True)`` children are daemonic, and a daemonic process may not
have children: ``Pool()`` or ``Process.start()`` inside one raises ``AssertionError: daemonic
processes are not allowed to have children`` (re-raised by the outer ``map()``).
"""

from __future__ import annotations

import ast
from typing import Iterator, List, Optional, Set, Tuple

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule


def _starts(mod: a.Module, func: a.FuncNode, depth: int, seen: Set[str]) -> List[ast.Call]:
    out: List[ast.Call] = []
    for call in mod.calls(func):
        v = mod.value_of(call, func)
        if v is not None and v.node is call and v.kind == a.POOL and not v.element:
            out.append(call)
            continue
        mc = a.method_call(call)
        if mc and mc[1] == "start":
            rv = mod.value_of(mc[0], func)
            if rv is not None and rv.kind == a.PROCESS:
                out.append(call)
                continue
        if depth and isinstance(call.func, ast.Name) and call.func.id in mod.functions \
                and call.func.id not in seen:
            out += _starts(mod, mod.functions[call.func.id], depth - 1, seen | {call.func.id})
    return out


def _daemonic(mod: a.Module) -> Iterator[Tuple[a.FuncNode, str, int]]:
    for task in mod.tasks:
        func = mod.target_function(task.func)
        if task.pool.kind == a.POOL and func is not None:
            yield func, f"a task of a Pool ({a.snippet(task.call.func)})", task.call.lineno
    for spawn in mod.spawns:
        daemon: Optional[ast.expr] = a.keyword(spawn.call, "daemon")
        func = mod.target_function(spawn.target)
        if func is not None and isinstance(daemon, ast.Constant) and daemon.value is True:
            yield func, "the target of a daemon Process", spawn.call.lineno


@rule("daemon-with-children", "a Pool task or daemon process starts processes of its own")
def check(mod: a.Module) -> Iterator[Hit]:
    reported: Set[int] = set()
    for func, what, line in _daemonic(mod):
        for call in _starts(mod, func, 1, {func.name}):
            if id(call) in reported:
                continue
            reported.add(id(call))
            yield call, (
                f"{a.snippet(call, 32)} runs in {what} (line {line}), a daemonic process, which "
                "may not have children: it raises AssertionError('daemonic processes are not "
                "allowed to have children'); start the inner work from the parent, or use a "
                "ThreadPool inside the task")
