"""join-before-drain: joining a child before reading what it put on a queue or pipe.

A child that has put items on a ``multiprocessing.Queue`` cannot exit until its feeder thread
has written them all into the queue's pipe (64 KiB on Linux); a ``SimpleQueue.put()`` or a
``Connection.send()`` blocks in the child itself.  If the only reader joins the child first,
both wait forever as soon as the data outgrows the pipe.
"""

from __future__ import annotations

import ast
from typing import Dict, Iterator, List, Optional, Set

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule

_WRITES = {a.QUEUE: ("put", "put_nowait"), a.JOINABLE: ("put", "put_nowait"),
           a.SIMPLE: ("put",), a.CONN: ("send", "send_bytes")}
_READS = {a.QUEUE: ("get", "get_nowait"), a.JOINABLE: ("get", "get_nowait"),
          a.SIMPLE: ("get",), a.CONN: ("recv", "recv_bytes", "recv_bytes_into")}
_HARMLESS = {"close", "join_thread", "cancel_join_thread", "qsize", "empty", "full",
             "task_done", "join", "fileno", "poll", "closed"}


class _Writer:
    def __init__(self, spawn: a.Spawn, func: a.FuncNode, in_loop: bool, cancels: bool) -> None:
        self.spawn = spawn
        self.func = func
        self.in_loop = in_loop
        self.cancels = cancels


def _channel_names(env: Dict[str, a.Value]) -> Dict[str, a.Value]:
    return {n: v for n, v in env.items() if v.kind in _WRITES and not v.element}


def _writers(mod: a.Module, scope: a.ScopeNode, name: str, value: a.Value) -> \
        Optional[List[_Writer]]:
    """The processes of ``scope`` that get ``name`` and write to it; None when the channel is
    also handed to something else (a reader child, a thread, another function)."""
    writers: List[_Writer] = []
    for spawn in mod.spawns:
        if spawn.scope is not scope:
            continue
        passed = [i for i, e in enumerate(spawn.args) if isinstance(e, ast.Name) and e.id == name]
        passed_kw = [k for k, e in spawn.kwargs if isinstance(e, ast.Name) and e.id == name]
        if not passed and not passed_kw:
            continue
        func = mod.target_function(spawn.target)
        if func is None:
            return None
        params = a.param_names(func)
        for where in passed + passed_kw:  # type: ignore[operator]
            pname = params[where] if isinstance(where, int) and where < len(params) else where
            if not isinstance(pname, str) or pname not in params:
                return None
            use = a.param_use(mod, func, pname)
            writes = set(_WRITES[value.kind]) & use.methods
            reads = set(_READS[value.kind]) & use.methods
            if use.escapes or reads or not writes:
                return None  # the child reads too, or does something we cannot follow
            writers.append(_Writer(spawn, func, bool(writes & use.in_loop),
                                   "cancel_join_thread" in use.methods))
    return writers


def _other_uses_ok(mod: a.Module, scope: a.ScopeNode, names: Set[str],
                   writers: List[_Writer]) -> bool:
    """Every use of the channel in ``scope`` is a method call on it or the hand-over to a
    writer: nothing else (no thread, no closure, no other function) can read it."""
    handed = {id(e) for w in writers for e in list(w.spawn.args) + [v for _, v in
                                                                      w.spawn.kwargs]}
    for node in ast.walk(scope):
        if not (isinstance(node, ast.Name) and node.id in names):
            continue
        if not isinstance(node.ctx, ast.Load) or id(node) in handed:
            continue
        owner = a.scope_of_node(mod, node)
        if owner is not scope:
            if a.binds(owner, node.id):
                continue  # another variable of the same name
            return False  # used by a nested function or a global reader: maybe a thread
        parent = mod.parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.attr != "_reader" and (
                isinstance(mod.parents.get(parent), (ast.Call, ast.Attribute))):
            continue  # a method call, or q._writer.fileno()
        return False
    return True


@rule("join-before-drain", "a child is joined before the queue or pipe it writes to is read",
      runtime="join-before-drain")
def check(mod: a.Module) -> Iterator[Hit]:
    for scope in mod.scopes:
        env = mod.env(scope)
        if any(isinstance(c.func, ast.Name) and mod.qualname(c.func) ==
               "multiprocessing.connection.wait" for c in mod.calls(scope)):
            continue  # reads and exits are waited for together
        channels = _channel_names(env)
        done: Set[int] = set()
        for name, value in channels.items():
            if value.kind == a.CONN:
                # every end of this Pipe() in the scope is the same channel
                names = {n for n, v in channels.items()
                         if v.kind == a.CONN and v.node is value.node}
            else:
                names = {name}
            if id(value.node) in done:
                continue
            done.add(id(value.node))
            writers: List[_Writer] = []
            for n in names:
                w = _writers(mod, scope, n, channels[n])
                if w is None:
                    writers = []
                    break
                writers += w
            if not writers or not _other_uses_ok(mod, scope, names, writers):
                continue
            hit = _first_bad_join(mod, scope, env, names, value.kind, writers)
            if hit is not None:
                yield hit


def _first_bad_join(mod: a.Module, scope: a.ScopeNode, env: Dict[str, a.Value], names: Set[str],
                    kind: str, writers: List[_Writer]) -> Optional[Hit]:
    spawned = {id(w.spawn.call) for w in writers}
    reads: List[ast.Call] = []
    joins: List[ast.Call] = []
    for call in mod.calls(scope):
        mc = a.method_call(call)
        if mc is None or not isinstance(mc[0], ast.Name):
            continue
        receiver: ast.Name = mc[0]
        meth = mc[1]
        if receiver.id in names and meth in _READS[kind]:
            reads.append(call)
        elif meth == "join" and not a.has_timeout(call):
            v = env.get(receiver.id)
            if v is not None and v.kind == a.PROCESS and id(v.node) in spawned:
                joins.append(call)
    if not joins:
        return None
    join = min(joins, key=a.pos)
    before = [r for r in reads if a.pos(r) < a.pos(join)]
    after = [r for r in reads if a.pos(r) > a.pos(join)]
    writer = writers[0]
    what = {a.SIMPLE: "its put() blocks once the pipe is full",
            a.CONN: "its send() blocks once the pipe is full"}.get(
        kind, "it cannot exit until its queue's feeder thread has written every item")
    line = f"{writer.func.name}() at line {writer.func.lineno}"
    if writer.cancels:
        tail = ("it calls cancel_join_thread(), so join() returns, but the items its feeder "
                "had not written yet are lost")
    else:
        tail = f"{what}, so join() waits forever once the data outgrows the pipe (64 KiB)"
    if not before and after:
        first = min(after, key=a.pos)
        return join, (f"join() of a child that writes to {'/'.join(sorted(names))} ({line}) "
                      f"comes before the first read (line {first.lineno}): {tail}; read "
                      "everything first, then join")
    if before and any(w.in_loop for w in writers) and \
            not any(mod.in_loop(r, scope) for r in before):
        return join, (f"join() of a child that writes to {'/'.join(sorted(names))} in a loop "
                      f"({line}) after only {len(before)} read(s): {tail}; read everything "
                      "(up to a sentinel) first, then join")
    return None
