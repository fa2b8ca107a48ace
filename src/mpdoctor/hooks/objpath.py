"""Find *which* object inside a payload cannot be pickled, and the path to it.

``TypeError: cannot pickle '_thread.lock' object`` names a type, never where it sits.  Given the
object that failed, this walks its pickling graph breadth first (dicts, lists, tuples, sets,
``__dict__``, ``__slots__``, ``__reduce_ex__`` / ``__getstate__``, bound methods, partials) and
stops at the shallowest object that fails to pickle while none of its parts does: the culprit.
Every check uses the same pickler multiprocessing uses (``ForkingPickler``, same protocol), so
an object stdlib pickle can handle is never blamed.  Cycles are cut by identity; the walk stops
after a time and node budget.
"""

import functools
import io
import pickle
import time
import types
from collections import deque

# why a type cannot cross a process boundary, by (module, qualname) prefix or isinstance check
_WHY = [
    ("_thread", "a thread lock belongs to the threads of one process; it cannot be copied "
                "into another"),
    ("threading", "a thread synchronisation object belongs to one process"),
    ("multiprocessing.pool", "a Pool owns worker processes and threads of the process that "
                             "created it; it cannot be sent to another process"),
    ("multiprocessing.synchronize", "a multiprocessing lock can only be shared by passing it "
                                    "to Process(args=...) at creation, not sent later"),
    ("socket", "a socket is a handle that only means something in the process that owns it"),
    ("_io", "an open file is a handle in one process; it cannot be pickled"),
    ("io", "an open file is a handle in one process; it cannot be pickled"),
    ("builtins.generator", "a running generator's frame cannot be pickled"),
    ("builtins.coroutine", "a coroutine's frame cannot be pickled"),
    ("builtins.module", "modules are not picklable; import them where they are used"),
    ("sqlite3", "a database connection is a handle in one process"),
]


def type_name(obj):
    t = type(obj)
    return "%s.%s" % (t.__module__, t.__qualname__)


def why(obj, error=""):
    """One sentence: why this object cannot cross a process boundary."""
    if isinstance(obj, (types.FunctionType, types.LambdaType)):
        qual = getattr(obj, "__qualname__", "")
        if "<lambda>" in qual or "<locals>" in qual:
            return ("functions are pickled by name, and a lambda or a function defined inside "
                    "another function has no name another process could import")
    name = type_name(obj)
    for prefix, text in _WHY:
        if name.startswith(prefix):
            return text
    return error or "this type does not support pickling"


def _check(pickler, protocol):
    def fails(obj):
        try:
            buf = io.BytesIO()
            pickler(buf, protocol).dump(obj)
            return None
        except RecursionError:
            return None  # too deep to tell; do not blame it
        except Exception as exc:
            return exc
    return fails


def _parts(obj, protocol):
    """(child, path step) pairs: what pickling ``obj`` pickles in turn."""
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:10000]:
            yield v, "[%r]" % (k,)
            yield k, " key %r" % (k,)
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj[:10000]):
            yield v, "[%d]" % i
        return
    if isinstance(obj, (set, frozenset)):
        for v in list(obj)[:10000]:
            yield v, " item"
        return
    if isinstance(obj, types.MethodType):
        yield obj.__self__, ".__self__"
        yield obj.__func__, ".__func__"
        return
    if isinstance(obj, functools.partial):
        yield obj.func, ".func"
        for i, v in enumerate(obj.args):
            yield v, ".args[%d]" % i
        for k, v in (obj.keywords or {}).items():
            yield v, ".keywords[%r]" % (k,)
        return
    if isinstance(obj, (types.FunctionType, type, types.ModuleType, types.BuiltinFunctionType)):
        return  # pickled by name, or not at all: nothing inside is pickled
    try:
        rv = obj.__reduce_ex__(protocol)
    except Exception:
        return  # refusing to reduce is the failure itself
    if not isinstance(rv, tuple):
        return
    if len(rv) > 1 and isinstance(rv[1], tuple):
        for i, v in enumerate(rv[1]):
            if i == 0 and isinstance(v, type) and v is type(obj):
                continue  # copyreg's __newobj__ class argument
            yield v, "<args[%d]>" % i
    if len(rv) > 2 and rv[2] is not None:
        state = rv[2]
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        for part in (state, slots):
            if isinstance(part, dict):
                for k, v in part.items():
                    yield v, ".%s" % (k,) if isinstance(k, str) else "[%r]" % (k,)
            elif part is not None:
                yield part, "<state>"


def find(obj, pickler, protocol=None, root="", budget_seconds=0.25, budget_nodes=5000):
    """``(path, culprit type, why, culprit)`` for an object that fails to pickle, or None.

    ``path`` reads like ``args[0] (app.Client) .pool (multiprocessing.pool.Pool)``.
    """
    if protocol is None:
        protocol = pickle.DEFAULT_PROTOCOL  # what ForkingPickler(file, None) uses
    fails = _check(pickler, protocol)
    top_error = fails(obj)
    if top_error is None:
        return None
    deadline = time.monotonic() + budget_seconds
    seen = {id(obj)}
    queue = deque([(obj, [(root, obj)], top_error)])
    best = (obj, [(root, obj)], top_error)
    nodes = 0
    while queue and nodes < budget_nodes and time.monotonic() < deadline:
        node, path, error = queue.popleft()
        best = (node, path, error)
        failing_part = False
        for child, step in _parts(node, protocol):
            nodes += 1
            if id(child) in seen:
                continue
            seen.add(id(child))
            child_error = fails(child)
            if child_error is not None:
                failing_part = True
                queue.append((child, path + [(step, child)], child_error))
            if nodes >= budget_nodes or time.monotonic() >= deadline:
                break
        if not failing_part:
            break  # nothing inside fails: this node is the culprit
    node, path, error = best
    text = " ".join("%s (%s)" % (step.strip(), type_name(x)) if step.strip() else
                    "(%s)" % type_name(x) for step, x in path)
    return text, type_name(node), why(node, "%s: %s" % (type(error).__name__, error)), node
