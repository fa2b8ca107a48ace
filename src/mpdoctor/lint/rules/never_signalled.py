"""never-signalled: a consumer loop with a path that skips ``task_done()``.

``JoinableQueue.join()`` (and ``queue.Queue.join()``) returns when every item taken with
``get()`` was marked with ``task_done()``.  A loop that ``continue``s, or reaches the end of its
body, without it on some path leaves the count above zero for ever, and ``join()`` never returns.
"""

from __future__ import annotations

import ast
from typing import Iterator, List, Optional

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule


class _Paths:
    """Follow the statements after ``item = q.get()`` in one loop body."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.misses: List[ast.AST] = []

    def _marks(self, node: ast.AST) -> bool:
        for n in ast.walk(node):
            mc = a.method_call(n)
            if mc and isinstance(mc[0], ast.Name) and mc[0].id == self.queue \
                    and mc[1] == "task_done":
                return True
        return False

    def scan(self, stmts: List[ast.stmt], done: bool) -> Optional[bool]:
        """The state at the end of ``stmts`` (None when no path falls through)."""
        for s in stmts:
            if isinstance(s, ast.Continue):
                if not done:
                    self.misses.append(s)
                return None
            if isinstance(s, (ast.Break, ast.Return, ast.Raise)):
                # leaving the loop: often the sentinel, after a join() that already returned
                return None
            if isinstance(s, ast.If):
                ends = [self.scan(s.body, done), self.scan(s.orelse, done)]
                live = [e for e in ends if e is not None]
                if not live:
                    return None
                done = all(live)
            elif isinstance(s, ast.Try):
                if any(self._marks(f) for f in s.finalbody):
                    self.scan(s.body + s.orelse, True)
                    for h in s.handlers:
                        self.scan(h.body, True)
                    done = True
                    continue
                ends = [self.scan(s.body + s.orelse, done)]
                ends += [self.scan(h.body, done) for h in s.handlers]
                live = [e for e in ends if e is not None]
                if not live:
                    return None
                done = all(live)
            elif isinstance(s, (ast.With, ast.AsyncWith)):
                r = self.scan(s.body, done)
                if r is None:
                    return None
                done = r
            elif self._marks(s):
                done = True  # a nested loop, a match, a call: counted as marking (leniently)
        return done


def _get_target(stmt: ast.stmt) -> Optional[str]:
    """``item = q.get(...)`` -> ``q``."""
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        mc = a.method_call(stmt.value)
        if mc and isinstance(mc[0], ast.Name) and mc[1] == "get":
            return mc[0].id
    return None


def _joined_queue(mod: a.Module) -> bool:
    """Something in the module waits in ``join()`` of a queue that counts tasks."""
    for scope in mod.scopes:
        for call in mod.calls(scope):
            mc = a.method_call(call)
            if mc and mc[1] == "join" and not call.args:
                v = mod.value_of(mc[0], scope)
                if v is not None and v.kind in (a.JOINABLE, a.THREAD_QUEUE, a.PROXY):
                    return True
    return False


@rule("never-signalled", "a consumer loop that skips task_done() on some path, so the "
      "queue's join() never returns", runtime="never-signalled")
def check(mod: a.Module) -> Iterator[Hit]:
    if not _joined_queue(mod):
        return
    for scope in mod.scopes:
        for loop in mod.nodes(scope):
            if not isinstance(loop, (ast.While, ast.For)):
                continue
            for i, stmt in enumerate(loop.body):
                queue = _get_target(stmt)
                if queue is None:
                    continue
                paths = _Paths(queue)
                if not any(paths._marks(s) for s in loop.body[i + 1:]):
                    break  # this loop does not count tasks at all
                end = paths.scan(loop.body[i + 1:], False)
                misses = list(paths.misses)
                if end is False:
                    misses.append(stmt)
                for miss in misses:
                    how = "`continue`s" if isinstance(miss, ast.Continue) else \
                        "reaches the end of the loop"
                    yield miss, (
                        f"this path {how} after {queue}.get() (line {stmt.lineno}) without "
                        f"{queue}.task_done(): the item is never marked done, and "
                        f"{queue}.join() waits forever; call task_done() in a finally block")
                break
