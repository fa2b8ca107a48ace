"""Processes (standard library only): the parent vouches for each child it starts
(``started-child``, after a fork and around ``util.spawnv_passfds``), and the data pickled for
a spawned or forkserver child carries the hooks along (the stowaway).  Patches:
``patch_spawned`` (multiprocessing.util), ``patch_preparation`` (multiprocessing.spawn).
"""

import os
import sys

from mpdoctor.hooks import channel, protocol


def _vouch(pid, how):
    """Tell the watchdog that this process has just started child ``pid``: this process is
    heard (the kernel vouches for it), so the child is too, even if it exits and is reaped
    before the watchdog has read its events."""
    if isinstance(pid, int) and pid > 0:
        channel.send_note(protocol.STARTED_CHILD, child=pid, how=how)


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


#: how many inherited pipes and sockets a forked child names in its hello, and how many of its
#: fds it looks at (a child of a big forked tree has its parent's thousands: the hooks' start
#: in each child stays short)
INHERITED = 64
INHERITED_SCAN = 256


def inherited():
    """The pipes and sockets open in this process, as ``pipe:[N] socket:[N] ...``: called in a
    child right after fork, they are the ones it got from its parent, and the watchdog can tell
    a copy inherited that way from one made later.  Ends with ``...`` when not every fd was
    looked at (then what is missing proves nothing).  None when /proc cannot be read."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    out = []
    for name in names[:INHERITED_SCAN]:
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue  # (the listing's own fd, closed by now)
        if target.startswith(("pipe:[", "socket:[")):
            out.append(target)
            if len(out) >= INHERITED:
                break
    if len(out) >= INHERITED or len(names) > INHERITED_SCAN:
        out.append("...")
    return " ".join(out)


def after_fork_in_parent():
    try:
        _vouch(_newest_child(), "fork")
    except Exception:
        pass


def patch_spawned(util):
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


def patch_preparation(spawn):
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
                from mpdoctor.hooks.errors import _examine_main_guard
                _examine_main_guard(exc, exc.__traceback__.tb_next, sys._getframe(1))
            except Exception:
                pass
            raise
        try:
            from mpdoctor.hooks import boot
            data["mpdoctor_hooks"] = _Stowaway(boot._installed["config"])
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


def patch_exits(popen):
    """``Popen.poll`` (popen_fork's, which spawn's inherits, and popen_forkserver's): the first
    time a child's exit code is known and non-zero, the parent says so (``child-exit``).  One
    comparison more per poll; the event is sent once per child."""
    import functools

    cls = getattr(popen, "Popen", None)
    real = cls.__dict__.get("poll") if cls is not None else None
    if real is None:
        return

    def poll(self, *args, **kwargs):
        had = self.returncode
        code = real(self, *args, **kwargs)
        if had is None and code:
            try:
                channel.send(protocol.CHILD_EXIT, child=self.pid, exitcode=code)
            except Exception:
                pass
        return code

    functools.update_wrapper(poll, real)
    cls.poll = poll


def patch_serve_one(forkserver):
    """A forkserver's child that fails before its target runs (it cannot unpickle the process
    object: a function defined under the main guard) hands the error to ``sys.excepthook``
    itself, so no audit event tells of it: ``_serve_one`` is wrapped to see it on its way up
    (its frame then shows in that child's traceback, and only there)."""
    import functools

    real = getattr(forkserver, "_serve_one", None)
    if real is None:
        return

    def _serve_one(*args, **kwargs):
        try:
            return real(*args, **kwargs)
        except BaseException as exc:
            try:
                from mpdoctor.hooks import errors
                tb = exc.__traceback__
                inner = tb.tb_next if tb is not None else None
                errors._examine_unpickling(exc, inner)
                if not isinstance(exc, SystemExit):
                    errors._send_uncaught(exc, inner, "top")
            except Exception:
                pass
            raise

    functools.update_wrapper(_serve_one, real)
    forkserver._serve_one = _serve_one
