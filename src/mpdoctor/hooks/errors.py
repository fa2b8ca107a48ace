"""Pickling errors and other failures multiprocessing hits, seen where multiprocessing itself
looks at them (standard library only): ``pickle-error``, ``unpickle-error``, ``main-guard`` and
``thread-exception`` events.

No wrapper sits on the path of an exception: a frame of mpdoctor's would show up in the user's
tracebacks.  The queue feeder asks ``is_exiting()`` while handling one; multiprocessing prints
the others with ``traceback.print_exc()`` (a child's target, the feeder) or they reach
``sys.excepthook`` (an audit event) / ``threading.excepthook``; a Pool worker wraps an
unpicklable result in ``MaybeEncodingError``.  The object that failed is found in the
pickler's frame, in the exception's traceback.  Patches: ``patch_feeder_errors``
(multiprocessing.queues), ``patch_result_errors`` (multiprocessing.pool), ``patch_print_exc``
(traceback), ``patch_thread_excepthook`` (threading); ``audit`` is an audit hook.
"""

import os
import sys

from mpdoctor.hooks import channel, protocol
from mpdoctor.hooks.origin import is_library as _is_library


#
# No wrapper sits on the path of an exception: a frame of mpdoctor's would show up in the
# user's tracebacks.  Pickling errors are observed where multiprocessing itself looks at them:
# the queue feeder asks is_exiting() while handling one; multiprocessing prints the others with
# traceback.print_exc() (a child's target, the feeder) or they reach sys.excepthook /
# threading.excepthook; a Pool worker wraps an unpicklable result in MaybeEncodingError.  The
# object that failed is found in the pickler's frame, in the exception's traceback.

_OPERATIONS = [
    # (file suffix, function name, operation): the first that matches any frame wins, so the
    # specific operations come before the Connection.send they are built on
    ("multiprocessing/queues.py", "_feed", "Queue.put"),
    ("multiprocessing/pool.py", "_handle_tasks", "Pool task"),
    ("multiprocessing/managers.py", "_callmethod", "Manager proxy call"),
    ("multiprocessing/managers.py", "serve_client", "Manager result"),
    ("multiprocessing/popen_spawn_posix.py", "_launch", "Process start"),
    ("multiprocessing/popen_forkserver.py", "_launch", "Process start"),
    ("multiprocessing/queues.py", "put", "SimpleQueue.put"),
    ("multiprocessing/connection.py", "send", "Connection.send"),
]
_ROOTS = {"Queue.put": "item", "SimpleQueue.put": "item", "Connection.send": "obj",
          "Process start": "process", "Pool task": "task", "Pool result": "result",
          "Manager proxy call": "call", "ProcessPoolExecutor.submit": "call"}
_POOL_CALLS = {"map", "starmap", "apply", "apply_async", "map_async", "starmap_async", "imap",
               "imap_unordered"}
#: id() of exceptions already reported (print_exc and the excepthooks may both see one)
_reported: set = set()


class _At:
    """A frame of a traceback with the line it was at when the exception passed (a frame's
    own f_lineno moves on if the frame keeps running, e.g. into a with block's exit)."""

    __slots__ = ("f_code", "f_lineno", "f_locals")

    def __init__(self, tb):
        self.f_code = tb.tb_frame.f_code
        self.f_lineno = tb.tb_lineno
        self.f_locals = tb.tb_frame.f_locals


def _pickler_frame(tb):
    """The ForkingPickler frame in a traceback, and the frames outside it (outermost first)."""
    frames = []
    while tb is not None:
        frames.append(_At(tb))
        tb = tb.tb_next
    for i in range(len(frames) - 1, -1, -1):
        code = frames[i].f_code
        if code.co_filename.endswith("multiprocessing/reduction.py") and code.co_name in (
                "dumps", "dump"):
            return frames[i], frames[:i]
    return None, frames


def _operation(outer):
    """The multiprocessing operation that was pickling, from the frames outside the pickler."""
    for suffix, name, op in _OPERATIONS:
        for frame in reversed(outer):
            code = frame.f_code
            if code.co_name == name and code.co_filename.endswith(suffix):
                return op, frame
    return "pickling", None


def _site(outer):
    for frame in reversed(outer):
        if not _is_library(frame.f_code.co_filename):
            return "%s:%d" % (frame.f_code.co_filename, frame.f_lineno)
    return None


def _examine(exc, tb, thread_name=None):
    """Report ``exc`` if it is a pickling error raised by multiprocessing's pickler."""
    if exc is None or id(exc) in _reported:
        return
    frame, outer = _pickler_frame(tb)
    if frame is None:
        return
    _reported.add(id(exc))
    obj = frame.f_locals.get("obj")
    op, at = _operation(outer)
    site = None
    if op == "Pool task" and at is not None:
        site, call = _pool_task_site(at, obj)
        if not call:  # the job is gone from the cache: its result object is in the traceback
            for f in outer:
                if f.f_code.co_filename.endswith("multiprocessing/pool.py"):
                    result = f.f_locals.get("self")
                    if hasattr(result, "_mpdoctor_op"):
                        call, site = result._mpdoctor_op, result._mpdoctor_site
                        break
                    if f.f_code.co_name in _POOL_CALLS:
                        call = f.f_code.co_name
                        break
        if call:
            op = "Pool.%s task" % call
    _send_pickle_error(exc, obj, op, site or _site(outer), thread_name)


class _SpawningPopen:
    """Stands in for the Popen being launched while the culprit is searched, so that objects
    which may only be pickled for a child (the process's authkey, fds) are judged as
    multiprocessing judged them."""

    @staticmethod
    def duplicate_for_child(fd):
        return fd


def _views(op, obj):
    """(label, object) to search, from the user's point of view: a Pool task is the function
    and its arguments, not the internal task tuple."""
    if op.endswith("task") and isinstance(obj, tuple) and len(obj) == 5:
        func, args, kwds = obj[2], obj[3], obj[4]
        if (getattr(func, "__name__", "") in ("mapstar", "starmapstar") and len(args) == 1
                and isinstance(args[0], tuple) and len(args[0]) == 2):
            return [("function", args[0][0]), ("items", args[0][1])]  # map: (func, chunk)
        return [("function", func), ("args", args), ("kwargs", kwds)]
    if op == "Process start" and hasattr(obj, "_target"):
        return [("target", getattr(obj, "_target", None)), ("args", getattr(obj, "_args", ())),
                ("kwargs", getattr(obj, "_kwargs", {})), ("process", obj)]
    return [(_ROOTS.get(op, "obj"), obj)]


def _send_pickle_error(exc, obj, op, site, thread_name=None, dropped=False, pipe=None):
    from multiprocessing import context, reduction

    from mpdoctor.hooks import objpath

    found = None
    previous = context.get_spawning_popen()
    context.set_spawning_popen(previous or _SpawningPopen())
    try:
        for label, part in _views(op, obj):
            found = objpath.find(part, reduction.ForkingPickler, None, root=label)
            if found is not None:
                break
    finally:
        context.set_spawning_popen(previous)
    path = ctype = reason = None
    if found is not None:
        path, ctype, reason, _ = found
    channel.send(protocol.PICKLE_ERROR, op=op, dropped=dropped, site=site, path=path,
                 culprit=ctype, why=reason, error="%s: %s" % (type(exc).__name__, exc),
                 thread=thread_name or _thread_name(), pipe=pipe)


def _thread_name():
    threading = sys.modules.get("threading")
    return threading.current_thread().name if threading is not None else "MainThread"


def _pool_task_site(frame, task):
    """The user's line and Pool method (map, apply_async, ...) for a task the task handler
    could not send."""
    try:
        result = frame.f_locals.get("cache").get(task[0])
        return getattr(result, "_mpdoctor_site", None), getattr(result, "_mpdoctor_op", None)
    except Exception:
        return None, None


def patch_feeder_errors(queues):
    real_is_exiting = queues.is_exiting

    def is_exiting():
        # the feeder calls this while handling an error: a pickling error here means the item
        # is dropped (printed by _on_queue_feeder_error, or silently if the process exits)
        try:
            exc = sys.exc_info()[1]
            if exc is not None and id(exc) not in _reported:
                feeder = sys._getframe(1)
                if feeder.f_code.co_name == "_feed":
                    frame, outer = _pickler_frame(exc.__traceback__)
                    if frame is not None:
                        _reported.add(id(exc))
                        item = frame.f_locals.get("obj")
                        buffer = feeder.f_locals.get("buffer")
                        site = buffer.site_of(item) if hasattr(buffer, "site_of") else None
                        op = ("ProcessPoolExecutor.submit"
                              if type(item).__name__ == "_CallItem" else "Queue.put")
                        _send_pickle_error(exc, item, op, site,
                                           dropped=op == "Queue.put",
                                           pipe=getattr(buffer, "pipe", None))
        except Exception:
            pass
        return real_is_exiting()

    queues.is_exiting = is_exiting


def patch_print_exc(traceback):
    import functools

    real_print_exc = traceback.print_exc

    def print_exc(limit=None, file=None, chain=True):
        try:
            exc_type, exc, tb = sys.exc_info()
            _examine(exc, tb)
            _examine_unpickling(exc, tb)
            caller = sys._getframe(1)
            if (caller.f_code.co_name == "_bootstrap" and exc is not None
                    and caller.f_code.co_filename.endswith("multiprocessing/process.py")):
                # a Process's target raised: multiprocessing prints it, the child exits 1
                process = caller.f_locals.get("self")
                _send_uncaught(exc, tb, "target", getattr(process, "name", None))
        except Exception:
            pass
        return real_print_exc(limit=limit, file=file, chain=chain)

    functools.update_wrapper(print_exc, real_print_exc)
    traceback.print_exc = print_exc


def audit(event, args):
    """An uncaught exception is about to reach ``sys.excepthook``: the interpreter announces
    it as an audit event, so ``sys.excepthook`` itself stays the user's (identity checks,
    ``sys.excepthook is sys.__excepthook__``, keep their answer)."""
    if event != "sys.excepthook":
        return
    try:
        _hook, _exc_type, exc, tb = args
        _examine(exc, tb)
        _examine_unpickling(exc, tb)
        if isinstance(exc, RuntimeError):
            _examine_main_guard(exc, tb)
        _send_uncaught(exc, tb, "top")
    except Exception:
        pass


#: the names of the exceptions that carry a worker's traceback as __cause__ (Pool,
#: concurrent.futures, loky)
_REMOTE = ("RemoteTraceback", "_RemoteTraceback")


def _send_uncaught(exc, tb, where, process=None):
    """Tell the watchdog which exception ended this interpreter (``top``) or a Process's target
    (``target``), where it was raised, and the worker's traceback it carries, if any."""
    if exc is None:
        return
    try:
        message = str(exc)
    except Exception:
        message = "(its message could not be read)"
    error = "%s: %s" % (type(exc).__name__, message) if message else type(exc).__name__
    types = " ".join(c.__name__ for c in type(exc).__mro__ if c is not object)[:1024]
    site = None
    lib = []
    while tb is not None:
        code = tb.tb_frame.f_code
        name = code.co_filename
        if not _is_library(name):
            site = "%s:%d" % (name, tb.tb_lineno)
        else:
            for package in ("multiprocessing/", "concurrent/futures/"):
                at = name.rfind(package)
                if at >= 0:
                    lib.append("%s:%s" % (name[at:], code.co_name))
        tb = tb.tb_next
    remote = None
    cause = getattr(exc, "__cause__", None)
    if cause is not None and type(cause).__name__ in _REMOTE:
        try:
            remote = str(cause).strip().strip('"').strip()[-protocol.MAX_TEXT:]
        except Exception:
            remote = None
    lib_text = " ".join(lib[-12:])
    while len(lib_text) > 1024:
        lib = lib[1:]
        lib_text = " ".join(lib[-12:])
    channel.send(protocol.UNCAUGHT, where=where, error=error, types=types, site=site,
                 process=process[:256] if isinstance(process, str) else None, remote=remote,
                 lib=lib_text or None)


def patch_thread_excepthook(threading):
    """A thread died of an exception: ``threading`` asks ``_make_invoke_excepthook()`` (a
    private factory) for the function that calls ``threading.excepthook``; wrapping that
    function leaves ``threading.excepthook`` as the user set it."""
    real_make = getattr(threading, "_make_invoke_excepthook", None)
    if real_make is None:
        return

    def _make_invoke_excepthook():
        invoke = real_make()

        def invoke_excepthook(thread):
            try:
                exc_type, exc, tb = sys.exc_info()
                name = getattr(thread, "name", None)
                if exc is not None:
                    _examine(exc, tb, name)
                    channel.send(protocol.THREAD_EXCEPTION, thread=name,
                                 error="%s: %s" % (exc_type.__name__, exc))
            except Exception:
                pass
            return invoke(thread)

        return invoke_excepthook

    threading._make_invoke_excepthook = _make_invoke_excepthook


def patch_result_errors(mpool):
    import functools

    real_init = mpool.MaybeEncodingError.__init__

    def __init__(self, exc, value):
        real_init(self, exc, value)
        if isinstance(exc, str):
            return  # rebuilt from its repr in the parent: the worker already reported it
        try:  # a worker could not send a result back: find what in it cannot be pickled
            _send_pickle_error(exc, value, "Pool result", None)
        except Exception:
            pass

    functools.update_wrapper(__init__, real_init)
    mpool.MaybeEncodingError.__init__ = __init__


#: where a child unpickles what its parent sent, innermost traceback frame first:
#: (file suffix, function, operation)
_UNPICKLING = [("multiprocessing/queues.py", "get", "Pool task"),
               ("multiprocessing/spawn.py", "_main", "Process start")]


def _examine_unpickling(exc, tb):
    """A child could not unpickle what it was sent: a function pickled by name that does not
    exist where the child looks for it (defined under ``if __name__ == "__main__":``, which a
    spawned child's ``__mp_main__`` never runs), a module it cannot import."""
    if not isinstance(exc, (AttributeError, ImportError)) or id(exc) in _reported:
        return
    frames = []
    while tb is not None:
        frames.append(_At(tb))
        tb = tb.tb_next
    if not frames:
        return
    inner = frames[-1].f_code
    for suffix, name, op in _UNPICKLING:
        if inner.co_name == name and inner.co_filename.endswith(suffix):
            if op == "Pool task" and not any(
                    f.f_code.co_name == "worker" and f.f_code.co_filename.endswith(
                        "multiprocessing/pool.py") for f in frames):
                continue
            _reported.add(id(exc))
            main = sys.modules.get("__mp_main__") or sys.modules.get("__main__")
            channel.send(protocol.UNPICKLE_ERROR, op=op, error="%s: %s" % (type(exc).__name__, exc),
                         main=getattr(main, "__file__", None))
            return


_main_guard_told = [None]  # the pid that has sent its main-guard event (one per process)


def _examine_main_guard(exc, tb, caller=None):
    """``caller``: the frame the traceback starts in, when the exception is still on its way
    up (the frames above it are the user's, outermost first)."""
    if _main_guard_told[0] == os.getpid():
        return
    frames = []
    while caller is not None:
        frames.insert(0, caller)
        caller = caller.f_back
    while tb is not None:
        frames.append(_At(tb))
        tb = tb.tb_next
    if not frames or frames[-1].f_code.co_name != "_check_not_importing_main":
        return
    _main_guard_told[0] = os.getpid()
    channel.send(protocol.MAIN_GUARD, site=_site(frames),
                 main=getattr(sys.modules.get("__mp_main__") or sys.modules.get("__main__"),
                              "__file__", None))
