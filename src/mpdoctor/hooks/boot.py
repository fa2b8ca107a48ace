"""Install mpdoctor's hooks in this process (once), from the ``MPDOCTOR_HOOKS`` configuration.

Each patch lives in a module of its own and is applied when the module it patches is imported
(``PATCHES``), once per module object (``MARKER``).  What the hooks report, each as one event
sent by ``channel.py`` (the kinds and their fields are declared in ``protocol.py``):

* ``errors.py``: ``pickle-error`` (something multiprocessing had to send could not be pickled:
  the operation, the user's line, the path to the culprit object; ``dropped: true`` when a
  queue's feeder thread dropped the item), ``unpickle-error``, ``main-guard`` (a spawned or
  forkserver child re-ran the main module's process-starting code) and ``thread-exception``;
* ``queues.py``: ``put-site``, the first time a queue's feeder sends an item put from a given
  line (with the queue's pipe inode, so a stuck pipe can be traced to its put() lines);
* ``pool.py``: ``pool-worker-exit`` (a worker the pool found dead, its exit code, the results
  still pending and the calls and lines that created them);
* ``processes.py``: ``started-child`` (this process has just forked or spawned a child, so
  that the watchdog hears it even if it exits before its events are read), and the stowaway
  that starts the hooks in a spawned child;
* ``timers.py``: ``hello`` (at start-up and after a fork) and ``timer`` (alarm timers);
* ``locks.py``: no event, a ledger file: which of the user's multiprocessing locks this process
  holds, and where it took them (read by the watchdog after the process died).
"""

import os
import sys

from mpdoctor.hooks import channel
from mpdoctor.hooks.config import ENV, decode, encode  # noqa: F401 - encode: re-exported

_installed = {"done": False, "config": None}


def _debug(msg):
    if not os.environ.get("MPDOCTOR_DEBUG"):
        return  # (the debug channel is not even imported: every interpreter start pays for it)
    from mpdoctor.hooks import debuglog
    debuglog.log("hooks", msg)


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


#: module -> the patches applied to it, each as "hooks module:function", applied as soon as
#: the module is imported (never earlier: an interpreter that does not use multiprocessing pays
#: for nothing but reading one variable, and the hooks module of a patch is imported only then)
PATCHES = {
    "multiprocessing.queues": ("errors:patch_feeder_errors", "queues:patch_queues"),
    "multiprocessing.pool": ("errors:patch_result_errors", "pool:patch_pool"),
    "multiprocessing.spawn": ("processes:patch_preparation",),
    "multiprocessing.util": ("processes:patch_spawned",),
    "multiprocessing.popen_fork": ("processes:patch_exits",),
    "multiprocessing.popen_forkserver": ("processes:patch_exits",),
    "multiprocessing.forkserver": ("processes:patch_serve_one",),
    "multiprocessing.synchronize": ("locks:patch_locks",),
    "traceback": ("errors:patch_print_exc",),
    "threading": ("errors:patch_thread_excepthook",),
    "signal": ("timers:patch_signal",),
    "joblib.parallel": ("parallel:patch_parallel",),
}
#: the attribute of a patched module that lists the patches applied to it: a patch is applied
#: once per module object, even if the hooks are started twice (two copies of mpdoctor on
#: sys.path, say)
MARKER = "__mpdoctor_patches__"


def _apply(name, module, patches):
    try:
        done = module.__dict__.setdefault(MARKER, set())
    except Exception:
        return
    for patch in patches:
        if patch in done:
            continue
        done.add(patch)
        try:
            where, func = patch.split(":")
            hooks = __import__("mpdoctor.hooks." + where, fromlist=[func])
            getattr(hooks, func)(module)
        except Exception as exc:
            _debug("patch %s of %s failed: %r" % (patch, name, exc))


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


#: the pid of the process about to fork (read in the child: its parent may be gone by then)
_forking = [0]


def _before_fork():
    _forking[0] = os.getpid()


def _after_fork_in_child():
    """Every lock and per-process state of the hooks starts afresh in a forked child (a lock
    another thread held at the fork would stay held), and the child says hello."""
    try:
        channel.after_fork()
        from mpdoctor.hooks import timers
        timers.hello(fork=True, parent=_forking[0] or None)
    except Exception:
        pass


def _audit(event, args):
    """An uncaught exception is about to reach ``sys.excepthook`` (see ``errors.audit``)."""
    if event == "sys.excepthook":
        try:
            from mpdoctor.hooks import errors
            errors.audit(event, args)
        except Exception:
            pass


def _after_fork_in_parent():
    try:
        from mpdoctor.hooks import processes
        processes.after_fork_in_parent()
    except Exception:
        pass


def _install():
    from mpdoctor.hooks import timers

    sys.addaudithook(_audit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child,
                            after_in_parent=_after_fork_in_parent)
    timers.hello()
    try:  # stacks on request, for processes py-spy cannot read
        from mpdoctor.hooks import faultstacks
        faultstacks.install()
    except Exception as exc:
        _debug("faultstacks failed: %r" % (exc,))
    pending = {name: list(patches) for name, patches in PATCHES.items()}
    for name in list(pending):
        module = sys.modules.get(name)
        if module is not None:  # imported before the hooks started
            _apply(name, module, pending.pop(name))
    if pending:
        sys.meta_path.insert(0, _OnImport(pending))
    _debug("hooks installed")
