"""pool-worker-died: a Pool task that ends its worker process.

When a worker of ``multiprocessing.Pool`` dies (``os._exit()``, ``sys.exit()``), the pool
starts a replacement, but the task the dead worker held is never sent again: ``map()`` and
``get()`` wait forever.  ``ProcessPoolExecutor`` raises ``BrokenProcessPool`` instead.
"""

from __future__ import annotations

import ast
from typing import Iterator, List, Set

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule

_EXITS = {"os._exit", "sys.exit", "os.abort", "exit", "quit"}


def _exits(mod: a.Module, func: a.FuncNode, depth: int, seen: Set[str]) -> List[ast.Call]:
    out: List[ast.Call] = []
    for call in mod.calls(func):
        q = mod.qualname(call.func)
        if q in _EXITS and (q not in ("exit", "quit") or not a.binds(func, q)):
            out.append(call)
        elif q == "os.kill" and call.args and isinstance(call.args[0], ast.Call) \
                and mod.qualname(call.args[0].func) == "os.getpid":
            out.append(call)
        elif depth and isinstance(call.func, ast.Name) and call.func.id in mod.functions \
                and call.func.id not in seen:
            out += _exits(mod, mod.functions[call.func.id], depth - 1, seen | {call.func.id})
    return out


@rule("pool-worker-died", "a Pool task exits its worker process (os._exit, sys.exit)",
      runtime="pool-worker-died")
def check(mod: a.Module) -> Iterator[Hit]:
    reported: Set[int] = set()
    for task in mod.tasks:
        if task.pool.kind != a.POOL:
            continue
        func = mod.target_function(task.func)
        if func is None:
            continue
        for call in _exits(mod, func, 1, {func.name}):
            if id(call) in reported:
                continue
            reported.add(id(call))
            yield call, (
                f"{a.snippet(call.func)}() in a task of a Pool ({a.snippet(task.call.func)} at "
                f"line {task.call.lineno}): the worker dies with the task, the pool never sends "
                "it again, and the caller waits forever; raise an exception instead, or use "
                "ProcessPoolExecutor (it raises BrokenProcessPool)")
