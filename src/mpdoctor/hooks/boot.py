"""Install mpdoctor's hooks in this process (once), from the ``MPDOCTOR_HOOKS`` configuration.

What the hooks report (each as one event, sent by ``channel.py``; the kinds and their fields are
declared in ``protocol.py``):

* ``pickle-error``: something multiprocessing had to send could not be pickled: the operation
  (Process start, Pool task or result, Queue.put, SimpleQueue.put, Connection.send, Manager
  call, ProcessPoolExecutor.submit), the user's line, and the path to the culprit object;
  ``dropped: true`` when a queue's feeder thread dropped the item (``put()`` never raised);
* ``put-site``: the first time a queue's feeder sends an item put from a given line (with
  the queue's pipe inode, so a stuck pipe can be traced to its put() lines);
* ``pool-call`` (which map/apply call created which job, from which line) and
  ``pool-worker-exit`` (a worker the pool found dead, its exit code, and the results still
  pending at that moment);
* ``main-guard``: a spawned child re-ran the main module's process-starting code (no
  ``if __name__ == "__main__":`` guard);
* ``thread-exception``: a thread died of an exception (e.g. a Pool's result handler);
* ``started-child``: this process has just forked or spawned a child (its pid), so that the
  watchdog hears that child even if it exits and is reaped before its events are read.

Per-put cost: the queue's buffer is a deque subclass whose ``append`` also stores the caller's
line (one Python-level call and one dict store); the feeder's ``popleft`` pops it again.
"""

import os
import sys

from mpdoctor.hooks import channel, protocol
from mpdoctor.hooks.origin import is_library as _is_library

ENV = "MPDOCTOR_HOOKS"
_installed = {"done": False, "config": None}


def _debug(msg):
    from mpdoctor.hooks import debuglog
    debuglog.log("hooks", msg)


def encode(addr, debug=False):
    """The MPDOCTOR_HOOKS value: version, socket address (hex) and debug flag.  Plain text, so
    that reading it at every interpreter start needs no module (json, base64) at all."""
    return "1;%s;%d" % (os.fsencode(addr).hex(), 1 if debug else 0)


#: the longest unix socket address (sun_path is 108 bytes, with a terminating NUL for a path)
_MAX_ADDR = 107


def decode(value):
    """The configuration in an MPDOCTOR_HOOKS value; ValueError for anything else (the hooks
    then stay off).  The address is a socket path (absolute) or, as older versions of mpdoctor
    wrote, a name in the abstract namespace (starting with a NUL byte)."""
    version, addr, debug = value.split(";")
    if version != "1" or debug not in ("0", "1"):
        raise ValueError("not an MPDOCTOR_HOOKS value")
    raw = bytes.fromhex(addr)
    abstract = raw[:1] == b"\0"
    if not raw or len(raw) > _MAX_ADDR + abstract or (
            not abstract and (raw[:1] != b"/" or b"\0" in raw)):
        raise ValueError("not an event socket address")
    return {"v": 1, "addr": raw.decode("latin-1") if abstract else os.fsdecode(raw),
            "debug": debug == "1"}


def start():
    """Called from the .pth file at interpreter start-up when MPDOCTOR_HOOKS is set."""
    try:
        config = decode(os.environ[ENV])
    except Exception:
        return
    start_from(config)


def start_from(config):
    if _installed["done"]:
        return
    _installed["done"] = True
    _installed["config"] = config
    try:
        channel.configure(config.get("addr"))
        _install()
    except Exception as exc:  # never let a hook failure reach the program
        _debug("hooks failed: %r" % (exc,))


# -- where the user is ---------------------------------------------------------------------

def _user_site(frame):
    """``file:line`` of the innermost user frame at or above ``frame``."""
    depth = 0
    while frame is not None and depth < 60:
        code = frame.f_code
        if not _is_library(code.co_filename):
            return "%s:%d" % (code.co_filename, frame.f_lineno)
        frame = frame.f_back
        depth += 1
    return None


def _qualname(obj):
    try:
        return "%s.%s" % (obj.__module__, obj.__qualname__)
    except Exception:
        return type(obj).__name__


# -- pickling errors ----------------------------------------------------------------------
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


def _patch_feeder_errors(queues):
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


def _patch_print_exc(traceback):
    import functools

    real_print_exc = traceback.print_exc

    def print_exc(limit=None, file=None, chain=True):
        try:
            exc_type, exc, tb = sys.exc_info()
            _examine(exc, tb)
            _examine_unpickling(exc, tb)
        except Exception:
            pass
        return real_print_exc(limit=limit, file=file, chain=chain)

    functools.update_wrapper(print_exc, real_print_exc)
    traceback.print_exc = print_exc


def _audit(event, args):
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
    except Exception:
        pass


def _patch_thread_excepthook(threading):
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


def _patch_result_errors(mpool):
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


# -- queues: put sites -------------------------------------------------------------------

def _site_deque_class():
    """The queue buffer class (built when multiprocessing.queues is first imported)."""
    from collections import deque

    class _SiteDeque(deque):
        """A queue's buffer that remembers where items were put, for the first ``SAMPLE`` puts.

        ``append`` runs inside put() and notes the caller's code and instruction (the line number
        is worked out only for sites it reports: computing it on every put costs more than the put).
        Each new site is announced once, with the queue's pipe.  After ``SAMPLE`` puts, ``append``
        is rebound on the instance to deque's own C method: from then on put() runs at full speed.
        It never raises anything deque.append would not, and the feeder's popleft is untouched."""

        SAMPLE = 64

        def __init__(self, pipe=None):
            deque.__init__(self)
            self.sites = {}  # id(item) -> (code, instruction) of the put, sampled items only
            self.seen = set()
            self.pipe = pipe

        def append(self, obj, _getframe=sys._getframe, _lib=_is_library):
            deque.append(self, obj)
            if type(obj) is object:
                return  # close()'s sentinel
            try:
                # put() called from C (a thread started on q.put, atexit): no caller frame
                f = _getframe(1).f_back
                depth = 0
                while f is not None and _lib(f.f_code.co_filename) and depth < 4:
                    f = f.f_back  # put() called by library code: the user's line is further out
                    depth += 1
                if f is None or _lib(f.f_code.co_filename):
                    return
                key = (f.f_code, f.f_lasti)
                self.sites[id(obj)] = key
                if key not in self.seen:
                    self.seen.add(key)
                    channel.send(protocol.PUT_SITE, site=_where(key), pipe=self.pipe)
                if len(self.sites) >= self.SAMPLE:
                    self.append = deque.append.__get__(self)  # enough: full speed from now on
            except Exception:
                pass

        def site_of(self, obj):
            key = self.sites.get(id(obj)) or next(iter(self.seen), None)
            return _where(key) if key else None

    return _SiteDeque


def _where(key):
    """``file:line`` of a (code, instruction offset) pair."""
    code, lasti = key
    line = code.co_firstlineno
    try:
        for start, end, lineno in code.co_lines():
            if start <= lasti < end and lineno is not None:
                line = lineno
                break
    except AttributeError:  # Python < 3.10
        import dis
        for offset, lineno in dis.findlinestarts(code):
            if offset > lasti:
                break
            line = lineno
    return "%s:%d" % (code.co_filename, line)


def _patch_queues(queues):
    import functools
    from collections import deque

    SiteDeque = _site_deque_class()
    real_reset = queues.Queue._reset

    def _reset(self, *args, **kwargs):
        real_reset(self, *args, **kwargs)
        try:
            try:
                pipe = os.fstat(self._writer.fileno()).st_ino
            except Exception:
                pipe = None
            if type(self._buffer) is deque and not self._buffer:
                self._buffer = SiteDeque(pipe)
        except Exception:
            pass

    functools.update_wrapper(_reset, real_reset)
    queues.Queue._reset = _reset


# -- pools ------------------------------------------------------------------------------

def _patch_pool(mpool):
    import functools

    def wrap_init(cls, op_of):
        real = cls.__init__

        def __init__(self, *args, **kwargs):
            real(self, *args, **kwargs)
            try:
                site = _user_site(sys._getframe(1))
                op = op_of(sys._getframe(1))
                self._mpdoctor_site, self._mpdoctor_op = site, op
                channel.send(protocol.POOL_CALL, op=op, job=getattr(self, "_job", None),
                             site=site)
            except Exception:
                pass

        functools.update_wrapper(__init__, real)
        cls.__init__ = __init__

    def op_of(frame):
        """The Pool method the user called (map, starmap, apply_async, imap, ...): the
        outermost pool.py frame below the user's."""
        name = None
        depth = 0
        while frame is not None and depth < 10:
            if not frame.f_code.co_filename.endswith("multiprocessing/pool.py"):
                break
            name = frame.f_code.co_name
            frame = frame.f_back
            depth += 1
        return name

    wrap_init(mpool.ApplyResult, op_of)  # MapResult calls ApplyResult.__init__
    wrap_init(mpool.IMapIterator, op_of)

    Pool = mpool.Pool
    real_join_exited = Pool.__dict__["_join_exited_workers"].__func__

    def _join_exited_workers(pool):
        try:
            for w in pool:
                code = w.exitcode
                if code is not None and code != 0:
                    channel.send(protocol.POOL_WORKER_EXIT, worker=w.pid, exitcode=code,
                                 pending=_pending(sys._getframe(1)))
        except Exception:
            pass
        return real_join_exited(pool)

    functools.update_wrapper(_join_exited_workers, real_join_exited)
    Pool._join_exited_workers = staticmethod(_join_exited_workers)


def _pending(frame):
    """Results the pool still waits for when a worker died: job, call site, tasks missing."""
    out = []
    try:
        while frame is not None and "cache" not in frame.f_locals:
            frame = frame.f_back
        cache = frame.f_locals["cache"] if frame is not None else {}
        for job, result in list(cache.items())[:protocol.MAX_ITEMS]:
            out.append({"job": job, "site": getattr(result, "_mpdoctor_site", None),
                        "left": getattr(result, "_number_left", None),
                        "chunksize": getattr(result, "_chunksize", None),
                        "length": getattr(result, "_length", None)})
    except Exception:
        pass
    return out


# -- processes ----------------------------------------------------------------------------

def _vouch(pid, how):
    """Tell the watchdog that this process has just started child ``pid``: this process is
    heard (the kernel vouches for it), so the child is too, even if it exits and is reaped
    before the watchdog has read its events."""
    if isinstance(pid, int) and pid > 0:
        channel.send_closing(protocol.STARTED_CHILD, child=pid, how=how)


def _newest_child():
    """The child this thread forked last: the last pid of its children list (the kernel
    appends a new child at the end); None when that cannot be read."""
    try:
        fd = os.open("/proc/thread-self/children", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    pids = data.split()
    return int(pids[-1]) if pids else None


def _after_fork_in_parent():
    try:
        _vouch(_newest_child(), "fork")
    except Exception:
        pass


def _patch_spawned(util):
    """A spawned child (and the forkserver, and the resource tracker) is started through
    ``util.spawnv_passfds``, which returns its pid: the parent vouches for it."""
    import functools

    real = util.spawnv_passfds

    def spawnv_passfds(path, args, passfds):
        pid = real(path, args, passfds)
        try:
            _vouch(pid, "spawn")
        except Exception:
            pass
        return pid

    functools.update_wrapper(spawnv_passfds, real)
    util.spawnv_passfds = spawnv_passfds


def _patch_preparation(spawn):
    """The stowaway: under spawn and forkserver, the data a child needs to prepare itself is
    pickled for it (``spawn.get_preparation_data``) and unpickled first thing in the child.  One
    more key there, which unpickles as "start the hooks", makes sure the child runs them even
    if the environment variable was not passed on (a child started with a custom ``env``).
    ``spawn.prepare()`` reads only the keys it knows.  Process objects stay as they are."""
    import functools

    real = spawn.get_preparation_data

    def get_preparation_data(name):
        try:
            data = real(name)
        except RuntimeError as exc:
            # a child re-running the main module's process-starting code: said here, since a
            # forkserver's child hands its error to sys.excepthook itself (no audit event)
            try:
                _examine_main_guard(exc, exc.__traceback__.tb_next, sys._getframe(1))
            except Exception:
                pass
            raise
        try:
            data["mpdoctor_hooks"] = _Stowaway(_installed["config"])
        except Exception:
            pass
        return data

    functools.update_wrapper(get_preparation_data, real)
    spawn.get_preparation_data = get_preparation_data


_STOWAWAY_CODE = (
    "try:\n"
    "    import mpdoctor.hooks.boot as b\n"
    "    b.start_from(config)\n"
    "except Exception:\n"
    "    pass\n"
)


class _Stowaway:
    """Unpickles as ``exec(code, {"config": ...})``: builtins only, so a child without mpdoctor
    installed unpickles it as a harmless ``None``."""

    def __init__(self, config):
        self.config = config

    def __reduce__(self):
        return exec, (_STOWAWAY_CODE, {"config": self.config})


#: module -> what to patch in it, applied as soon as the module is imported (never earlier:
#: an interpreter that does not use multiprocessing pays for nothing but reading one variable)
def _patches():
    from mpdoctor.hooks import timers

    return {
        "multiprocessing.queues": [_patch_feeder_errors, _patch_queues],
        "multiprocessing.pool": [_patch_result_errors, _patch_pool],
        "multiprocessing.spawn": [_patch_preparation],
        "multiprocessing.util": [_patch_spawned],
        "traceback": [_patch_print_exc],
        "threading": [_patch_thread_excepthook],
        "signal": [timers.patch_signal],
    }


def _apply(name, module, patches):
    for patch in patches:
        try:
            patch(module)
        except Exception as exc:
            _debug("patch %s of %s failed: %r" % (patch.__name__, name, exc))


class _OnImport:
    """A meta path finder that finds nothing itself: for the modules mpdoctor patches, it lets
    the other finders find them and wraps the module's loader so that the patch is applied
    right after the module has run."""

    def __init__(self, pending):
        self.pending = pending

    def find_spec(self, name, path=None, target=None):
        if name not in self.pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
            return spec  # a shared loader (built-in, frozen): leave it alone
        patches = self.pending.pop(name)
        real_exec = loader.exec_module

        def exec_module(module):
            real_exec(module)
            _apply(name, module, patches)

        loader.exec_module = exec_module  # this loader instance loads this module only
        return spec


def _after_fork_in_child():
    """Every lock and per-process state of the hooks starts afresh in a forked child (a lock
    another thread held at the fork would stay held), and the child says hello."""
    try:
        channel.after_fork()
        from mpdoctor.hooks import timers
        timers.hello(fork=True)
    except Exception:
        pass


def _install():
    from mpdoctor.hooks import timers

    sys.addaudithook(_audit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child,
                            after_in_parent=_after_fork_in_parent)
    timers.hello()
    try:  # stacks on request, for processes py-spy cannot read
        from mpdoctor.hooks import faultstacks
        faultstacks.install()
    except Exception as exc:
        _debug("faultstacks failed: %r" % (exc,))
    pending = _patches()
    for name in list(pending):
        module = sys.modules.get(name)
        if module is not None:  # imported before the hooks started
            _apply(name, module, pending.pop(name))
    if pending:
        sys.meta_path.insert(0, _OnImport(pending))
    _debug("hooks installed")
