"""pool-terminated: waiting for a result after the pool was terminated.

``terminate()`` (also what leaving ``with Pool() as pool:`` does) kills the workers; a task it
dropped never gets a result, and nothing tells its ``AsyncResult``: ``get()`` or ``wait()``
without a timeout, or iterating an ``imap()``, waits forever.
"""

from __future__ import annotations

import ast
from typing import Dict, Iterator, List, Optional, Tuple

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule


def _ends(mod: a.Module, scope: a.ScopeNode, pool: str, value: a.Value) -> \
        List[Tuple[Tuple[int, int], str]]:
    """Where the pool is terminated: ``pool.terminate()``, or the end of its ``with``."""
    out: List[Tuple[Tuple[int, int], str]] = []
    for call in mod.calls(scope):
        mc = a.method_call(call)
        if mc and isinstance(mc[0], ast.Name) and mc[0].id == pool and mc[1] == "terminate":
            out.append((a.pos(call), f"{pool}.terminate() at line {call.lineno}"))
    if value.with_node is not None:
        out.append((a.end_pos(value.with_node),
                    f"the end of `with` at line {a.pos(value.with_node)[0]} (which terminates "
                    "the pool)"))
    return out


def _settled(mod: a.Module, scope: a.ScopeNode, pool: str, result: str,
             before: Tuple[int, int]) -> bool:
    """Before ``before``: the result was waited for, or the pool was closed and joined."""
    closed = joined = False
    for call in mod.calls(scope):
        if a.pos(call) >= before:
            continue
        mc = a.method_call(call)
        if not mc or not isinstance(mc[0], ast.Name):
            continue
        if mc[0].id == result and mc[1] in ("get", "wait"):
            return True
        if mc[0].id == pool and mc[1] == "close":
            closed = True
        if mc[0].id == pool and mc[1] == "join" and closed:
            joined = True
    return joined


def _waits(mod: a.Module, scope: a.ScopeNode, name: str, value: a.Value) -> Iterator[ast.AST]:
    """Where the result is waited for without a timeout."""
    for node in mod.nodes(scope):
        if value.kind == a.ASYNC_RESULT and isinstance(node, ast.Call):
            mc = a.method_call(node)
            if mc and isinstance(mc[0], ast.Name) and mc[0].id == name \
                    and mc[1] in ("get", "wait") and not a.has_timeout(node):
                yield node
        elif value.kind == a.IMAP_ITERATOR:
            if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.iter, ast.Name) \
                    and node.iter.id == name:
                yield node.iter
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("list", "tuple", "next", "sorted", "set") \
                    and node.args and isinstance(node.args[0], ast.Name) \
                    and node.args[0].id == name:
                yield node


@rule("pool-terminated", "a result waited for without a timeout after its pool was terminated",
      runtime="pool-terminated")
def check(mod: a.Module) -> Iterator[Hit]:
    for scope in mod.scopes:
        env = mod.env(scope)
        pools: Dict[str, a.Value] = {n: v for n, v in env.items()
                                     if v.kind in a.POOLS and not v.element}
        for name, value in env.items():
            if value.kind not in (a.ASYNC_RESULT, a.IMAP_ITERATOR) or value.pool not in pools:
                continue
            pool = value.pool
            assert pool is not None
            ends = _ends(mod, scope, pool, pools[pool])
            made = a.pos(value.node)
            hit: Optional[Tuple[ast.AST, str]] = None
            for wait in _waits(mod, scope, name, value):
                for end, what in sorted(ends):
                    if made < end < a.pos(wait) and not _settled(mod, scope, pool, name, end):
                        verb = "iterating" if value.kind == a.IMAP_ITERATOR else \
                            f"{a.snippet(wait, 24)} without a timeout"
                        hit = (wait, f"{verb} after {what}: a task that terminate() dropped "
                                     "never gets a result, and this waits forever; take the "
                                     "results before the pool ends, or pass a timeout")
                        break
                if hit:
                    break
            if hit:
                yield hit
