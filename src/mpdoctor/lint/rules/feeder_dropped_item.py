"""feeder-dropped-item: ``Queue.put()`` of an object that cannot be pickled.

``multiprocessing.Queue.put()`` does not pickle: the queue's feeder thread does, later.  When
that fails, the feeder prints a traceback (or nothing, if the process is exiting) and drops the
item; ``put()`` never raised, and a ``get()`` waiting for the item waits forever.
"""

from __future__ import annotations

import ast
from typing import Dict, Iterator, Optional, Set, Tuple

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule

_FED = (a.QUEUE, a.JOINABLE)  # SimpleQueue.put() pickles in the caller and raises there


def _queue_params(mod: a.Module) -> Dict[int, Set[str]]:
    """Function (by id) -> its parameters that receive a multiprocessing Queue (from a
    ``Process(target=f, args=(q,))`` of this module)."""
    out: Dict[int, Set[str]] = {}
    for spawn in mod.spawns:
        func = mod.target_function(spawn.target)
        if func is None:
            continue
        params = a.param_names(func)
        pairs = [(params[i], e) for i, e in enumerate(spawn.args) if i < len(params)]
        pairs += list(spawn.kwargs)
        for pname, expr in pairs:
            v = mod.value_of(expr, spawn.scope)
            if v is not None and v.kind in _FED and not v.element:
                out.setdefault(id(func), set()).add(pname)
    return out


def _made_by(mod: a.Module, expr: ast.expr, scope: a.ScopeNode) -> Optional[Tuple[ast.Call, str]]:
    """The ``Cls(...)`` call that made ``expr`` (directly, or a local assigned from it)."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) \
            and expr.func.id in mod.classes:
        return expr, expr.func.id
    if isinstance(expr, ast.Name):
        for node in mod.nodes(scope):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == expr.id for t in node.targets):
                return _made_by(mod, node.value, scope)
    return None


@rule("feeder-dropped-item", "Queue.put() of an instance that cannot be pickled (a lock on it)",
      runtime="feeder-dropped-item")
def check(mod: a.Module) -> Iterator[Hit]:
    params = _queue_params(mod)
    for scope in mod.scopes:
        queue_params = params.get(id(scope), set())
        for call in mod.calls(scope):
            mc = a.method_call(call)
            if not mc or mc[1] not in ("put", "put_nowait") or not call.args \
                    or not isinstance(mc[0], ast.Name):
                continue
            q = mc[0].id
            v = mod.value_of(mc[0], scope)
            if not ((v is not None and v.kind in _FED and not v.element) or q in queue_params):
                continue
            made = _made_by(mod, call.args[0], scope)
            if made is None:
                continue
            bad = a.unpicklable_attrs(mod, mod.classes[made[1]])
            if not bad:
                continue
            attr, value, where = bad[0]
            yield call, (
                f"{q}.{mc[1]}() of a {made[1]}, whose .{attr} is {a.snippet(value.node, 32)} "
                f"(line {where.lineno}): put() returns, then the queue's feeder thread fails to "
                "pickle it and drops it, and a get() waiting for it waits forever; put plain "
                "data, or give the class a __getstate__ that leaves the lock out")
