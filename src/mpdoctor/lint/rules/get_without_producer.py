"""get-without-producer: reading a pipe until end of file while holding its write end.

``recv()`` raises ``EOFError`` only when every copy of the other end is closed.  The child got
its own copy; if the parent never closes the one it kept, end of file never comes and ``recv()``
waits forever once the child has sent everything and exited.
"""

from __future__ import annotations

import ast
from typing import Dict, Iterator, Optional

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule


def _until_eof(mod: a.Module, call: ast.AST, scope: ast.AST) -> bool:
    """``call`` is in a ``try`` that ends the reading on ``EOFError``, inside a loop."""
    for anc in mod.ancestors(call):
        if anc is scope:
            return False
        if isinstance(anc, ast.Try) and any(call in ast.walk(s) for s in anc.body):
            for h in anc.handlers:
                types = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
                if any(t is not None and a.last_name(t) == "EOFError" for t in types):
                    return mod.in_loop(anc, scope)
    return False


@rule("get-without-producer", "a pipe read until EOFError while this process keeps the write end",
      runtime="get-without-producer")
def check(mod: a.Module) -> Iterator[Hit]:
    for scope in mod.scopes:
        env = mod.env(scope)
        ends: Dict[int, Dict[int, str]] = {}
        for name, v in env.items():
            if v.kind == a.CONN and v.index is not None and not v.element:
                ends.setdefault(id(v.node), {})[v.index] = name
        for pair in ends.values():
            if len(pair) != 2:
                continue
            for child_i in (0, 1):
                child_end, own_end = pair[child_i], pair[1 - child_i]
                spawn = next((s for s in mod.spawns if s.scope is scope and any(
                    isinstance(e, ast.Name) and e.id == child_end
                    for e in list(s.args) + [v for _, v in s.kwargs])), None)
                if spawn is None:
                    continue
                hit = _read_without_close(mod, scope, spawn, own_end, child_end)
                if hit is not None:
                    yield hit


def _read_without_close(mod: a.Module, scope: a.ScopeNode, spawn: a.Spawn, own: str,
                        child: str) -> Optional[Hit]:
    closes = []
    reads = []
    for call in mod.calls(scope):
        mc = a.method_call(call)
        if not mc or not isinstance(mc[0], ast.Name):
            continue
        if mc[0].id == child and mc[1] == "close":
            closes.append(call)
        if mc[0].id == own and mc[1] in ("recv", "recv_bytes") and a.pos(call) > a.pos(spawn.call):
            reads.append(call)
        if mc[0].id == child and mc[1] not in ("close", "send", "send_bytes", "fileno"):
            return None  # the parent uses that end itself: not a plain hand-over
    for read in sorted(reads, key=a.pos):
        if any(a.pos(c) < a.pos(read) for c in closes):
            return None
        if _until_eof(mod, read, scope):
            return read, (
                f"{own}.{read.func.attr}() until EOFError, but this process still holds "  # type: ignore[attr-defined]
                f"{child}, the other end it gave the child at line {spawn.call.lineno}: end of "
                "file never comes, and recv() waits forever after the child exits; call "
                f"{child}.close() right after starting the child")
    return None
