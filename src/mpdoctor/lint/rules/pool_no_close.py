"""pool-no-close: a ``Pool`` that is never closed, or joined while it still runs.

``Pool.join()`` waits for the workers to exit, which they do only after ``close()`` or
``terminate()``; on a running pool it raises ``ValueError: Pool is still running``.  A pool
that is neither closed nor used as a context manager keeps its worker processes (and three
threads) until the interpreter's exit handlers terminate them.
"""

from __future__ import annotations

import ast
from typing import Iterator, List

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule

_ENDS = ("close", "terminate")


def _catches_value_error(mod: a.Module, node: ast.AST, scope: ast.AST) -> bool:
    """``node`` runs inside a ``try`` that expects the ValueError (the lesson, not the bug)."""
    for anc in mod.ancestors(node):
        if anc is scope:
            return False
        if isinstance(anc, ast.Try) and any(node in ast.walk(s) for s in anc.body):
            for h in anc.handlers:
                names = [a.dotted(t) for t in (h.type.elts if isinstance(h.type, ast.Tuple)
                                               else [h.type])] if h.type else [None]
                if any(n in (None, "ValueError", "Exception", "BaseException") for n in names):
                    return True
    return False


def _escapes(mod: a.Module, scope: a.ScopeNode, name: str) -> bool:
    """The pool is handed to other code (returned, stored, passed, used in ``with``), which
    may close it."""
    for node in ast.walk(scope):
        if not (isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)):
            continue
        owner = a.scope_of_node(mod, node)
        if owner is not scope:
            if a.binds(owner, name):
                continue
            return True
        parent = mod.parents.get(node)
        if isinstance(parent, ast.Attribute) and isinstance(mod.parents.get(parent), ast.Call):
            continue
        return True
    return False


@rule("pool-no-close", "a Pool that is never closed, or joined before close()/terminate()")
def check(mod: a.Module) -> Iterator[Hit]:
    for scope in mod.scopes:
        for name, value in mod.env(scope).items():
            if value.kind not in a.POOLS or value.element or value.with_node is not None:
                continue
            if not isinstance(mod.parents.get(value.node), (ast.Assign, ast.AnnAssign)):
                continue
            ends: List[ast.Call] = []
            joins: List[ast.Call] = []
            for call in mod.calls(scope):
                mc = a.method_call(call)
                if mc and isinstance(mc[0], ast.Name) and mc[0].id == name:
                    if mc[1] in _ENDS:
                        ends.append(call)
                    elif mc[1] == "join":
                        joins.append(call)
            escapes = _escapes(mod, scope, name)
            if not ends and not joins and not escapes and value.kind == a.POOL:
                yield value.node, (
                    f"this Pool ({name}) is never closed or terminated, nor used in `with`: its "
                    "worker processes stay until the interpreter exits; call close() and join() "
                    "when done (in a finally block), or use `with Pool(...) as pool:`")
                continue
            for join in sorted(joins, key=a.pos):
                if any(a.pos(e) < a.pos(join) for e in ends):
                    break
                if escapes and not ends:
                    break  # closed elsewhere, maybe
                if _catches_value_error(mod, join, scope):
                    continue
                yield join, (
                    f"{name}.join() before {name}.close() or {name}.terminate(): join() on a "
                    "running pool raises ValueError('Pool is still running'); call close() "
                    "first (no more tasks), then join()")
                break
