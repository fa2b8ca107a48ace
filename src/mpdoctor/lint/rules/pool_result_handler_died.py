"""pool-result-handler-died: a Pool task raises an exception that cannot be unpickled.

Exceptions are pickled as ``(class, self.args)`` and rebuilt with ``class(*args)``.  An
exception whose ``__init__`` does not take what it passes to ``Exception.__init__`` cannot be
rebuilt; the pool's result-handler thread dies trying, and ``map()`` waits forever.
"""

from __future__ import annotations

import ast
from typing import Iterator, List, Optional, Set

from mpdoctor.lint import analysis as a
from mpdoctor.lint.rules import Hit, rule


def _base_init_args(mod: a.Module, init: a.FuncNode) -> Optional[List[ast.expr]]:
    """What ``__init__`` passes to the base class's ``__init__`` (None: not found, or
    starred)."""
    for call in mod.calls(init):
        f = call.func
        if not (isinstance(f, ast.Attribute) and f.attr == "__init__"):
            continue
        if isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name) \
                and f.value.func.id == "super":
            args = list(call.args)
        elif isinstance(f.value, (ast.Name, ast.Attribute)):
            args = list(call.args[1:])  # Base.__init__(self, ...)
        else:
            continue
        if call.keywords or any(isinstance(x, ast.Starred) for x in args):
            return None
        return args
    return None


def _why(mod: a.Module, cls: a.ClassInfo) -> Optional[str]:
    if any(m in cls.methods for m in ("__reduce__", "__reduce_ex__", "__getnewargs__",
                                       "__getnewargs_ex__")):
        return None
    init = cls.methods.get("__init__")
    if init is None:
        return None
    args = _base_init_args(mod, init)
    if args is None:
        return None
    least, most = a.required_positional(init)
    name = cls.node.name
    if len(args) < least or (most is not None and len(args) > most):
        return (f"{name}.__init__ takes {least} argument(s) but passes {len(args)} to the base "
                f"class, so {name}(*args) fails when the parent unpickles it")
    params = set(a.param_names(init)[1:])
    for arg in args:
        if isinstance(arg, (ast.Attribute, ast.Subscript)) and isinstance(arg.value, ast.Name) \
                and arg.value.id in params:
            return (f"{name}.__init__ passes {a.snippet(arg, 24)} to the base class, so the "
                    f"parent rebuilds it as {name}({a.snippet(arg, 24)}) and evaluates "
                    f"{a.snippet(arg, 24)} again on that value")
    return None


def _is_exception(mod: a.Module, cls: a.ClassInfo, seen: Set[str]) -> bool:
    for base in cls.node.bases:
        name = a.last_name(base) or ""
        if name.endswith(("Error", "Exception", "Warning")) or name == "BaseException":
            return True
        if name in mod.classes and name not in seen:
            if _is_exception(mod, mod.classes[name], seen | {name}):
                return True
    return False


@rule("pool-result-handler-died", "a Pool task raises an exception that cannot be rebuilt "
      "from its args", runtime="pool-result-handler-died")
def check(mod: a.Module) -> Iterator[Hit]:
    reported: Set[int] = set()
    for task in mod.tasks:
        if task.pool.kind != a.POOL:
            continue
        func = mod.target_function(task.func)
        if func is None:
            continue
        for node in mod.nodes(func):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name)):
                continue
            cls = mod.classes.get(node.exc.func.id)
            if cls is None or id(node) in reported or not _is_exception(mod, cls, set()):
                continue
            why = _why(mod, cls)
            if why is None:
                continue
            reported.add(id(node))
            yield node, (
                f"this Pool task ({a.snippet(task.call.func)} at line {task.call.lineno}) "
                f"raises {cls.node.name}, which cannot be unpickled: {why}; the pool's result "
                "handler thread dies, and map()/get() wait forever; pass the constructor's own "
                "arguments to super().__init__() (or define __reduce__)")
