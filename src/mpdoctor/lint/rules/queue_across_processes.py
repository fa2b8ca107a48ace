"""queue-across-processes: a ``queue.Queue`` or ``threading`` primitive sent to a process.

These objects live in one process's memory.  Under fork the child gets a private copy: what it
puts, the parent never sees, and a lock it takes guards nothing.  Under spawn and forkserver they
cannot even be pickled (``TypeError: cannot pickle '_thread.lock' object``).
"""

from __future__ import annotations

import ast
from typing import Iterator, List, Tuple

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule

_INSTEAD = {a.THREAD_QUEUE: "multiprocessing.Queue (or Manager().Queue())",
            a.THREAD_PRIMITIVE: "the multiprocessing primitive of the same name "
                                "(or a Manager()'s)"}


@rule("queue-across-processes", "a queue.Queue or threading lock/event passed to a process",
      runtime="unpicklable-payload")
def check(mod: a.Module) -> Iterator[Hit]:
    sent: List[Tuple[a.ScopeNode, ast.expr, str]] = []
    for spawn in mod.spawns:
        if not mod.started(spawn):
            continue
        for e in list(spawn.args) + [v for _, v in spawn.kwargs]:
            sent.append((spawn.scope, e, "a process"))
    for task in mod.tasks:
        if task.pool.kind in (a.POOL, a.PROCESS_EXECUTOR):
            for e in task.args:
                sent.append((task.scope, e, "a pool worker"))
    for scope, expr, where in sent:
        v = mod.value_of(expr, scope)
        if v is None or v.kind not in _INSTEAD or v.element:
            continue
        what = a.snippet(v.node, 32)
        yield expr, (
            f"{a.snippet(expr, 24)} ({what}) is passed to {where}: under fork the child gets a "
            "copy of its own (nothing it does reaches this process), under spawn and "
            f"forkserver it cannot be pickled; use {_INSTEAD[v.kind]}")
