"""Who holds which multiprocessing lock (standard library only): a ledger in shared memory
that survives its process.  Patch: ``patch_locks`` (multiprocessing.synchronize).

A process killed while it holds a lock (SIGKILL, ``terminate()``, ``os._exit``) can tell
nobody: so each process keeps, in a small file it maps (``held.PID`` beside the event socket),
one slot per lock it has taken: the lock's shared memory (``dev:inode``, as ``/proc/PID/maps``
writes it, which is what a waiter's futex is resolved to), its name, how many times this
process holds it (acquisitions minus releases), and the thread and user line of the last
acquisition.  Writing a slot is a store into memory, no system call; the watchdog reads the
files of dead processes when a wait on a lock is stuck (``lock-holder-died``).

Only the user's locks are tracked: ``Lock``, ``RLock``, ``Semaphore`` and ``BoundedSemaphore``
made by the user's code, and the lock of a ``Condition``/``Event``/``Barrier`` (its internal
semaphores signal, they are not held). The locks multiprocessing and other libraries make for
themselves (a queue's, a pool's) keep their C methods: their hot paths pay nothing. A lock
that reaches a spawned child is tracked there when its parent tracked it (the names of tracked
locks are appended to ``locks`` beside the ledgers).
"""

import functools
import os
import sys

from mpdoctor.hooks import channel
from mpdoctor.hooks.origin import is_library

SLOTS = 64
#: key (dev:inode) 24, name 32, tid 4, sampled 4, count 4, line 4, file 88 (bytes)
SLOT = 160
_FILE = 88
_INTS = SLOT // 4  # the slot in 4-byte words: tid at word 14, count at 16, line at 17
#: the first acquisitions of a lock in a process record their thread and line; after that
#: only the count changes (no frame is looked at: ``sys._getframe`` is an audited call),
#: and word 15 says that the line is where the lock was last taken among those
SAMPLE = 64
_state = {"mm": None, "words": None, "used": 0, "failed": False,  # type: dict
          "tracked": set()}
#: bumped in a forked child: every lock's record starts afresh there (a ledger of its own)
_GEN = [0]
#: (code, instruction) of an acquisition site -> its line and file, as the slot stores them
_SITES = {}  # type: dict


def _dir():
    addr = channel._state.get("addr") or ""
    return os.path.dirname(addr) if addr.startswith("/") else None


def after_fork_in_child():
    _GEN[0] += 1
    _state.update(mm=None, words=None, used=0, failed=False)


def _ledger():
    st = _state
    if st["mm"] is None and not st["failed"]:
        st["failed"] = True
        d = _dir()
        if d is None:
            return None
        import mmap
        fd = os.open(os.path.join(d, "held.%d" % os.getpid()),
                     os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.ftruncate(fd, SLOTS * SLOT)
            st["mm"] = mmap.mmap(fd, SLOTS * SLOT)
        finally:
            os.close(fd)
        st["words"] = memoryview(st["mm"]).cast("i")
        st["failed"] = False
    return st["mm"]


def _mapping_key(handle):
    """``dev:inode`` of the shared memory holding the semaphore at ``handle`` in this process."""
    try:
        with open("/proc/self/maps", "rb") as f:
            for line in f:
                parts = line.split(None, 5)
                lo, hi = parts[0].split(b"-")
                if int(lo, 16) <= handle < int(hi, 16):
                    return (parts[3] + b":" + parts[4]).decode("ascii")
    except Exception:
        pass
    return ""


def _slot(semlock, rec):
    """This lock's slot in this process's ledger (a new one the first time), or -1."""
    gen = _GEN[0]
    if rec[3] != gen:  # first use in this process
        rec[:] = [-1, 0, None, gen, 0, 0]
    if rec[0] >= 0:
        return rec[0]
    mm = _ledger()
    if mm is None or _state["used"] >= SLOTS:
        return -1
    i = _state["used"]
    _state["used"] = i + 1
    off = i * SLOT
    mk = _mapping_key(semlock.handle).encode("ascii")[:24]
    name = (getattr(semlock, "name", None) or "").encode("utf-8", "replace")[:32]
    mm[off:off + 56] = mk.ljust(24, b"\0") + name.ljust(32, b"\0")
    rec[0] = i
    return i


def _site(key, frame):
    site = _SITES.get(key)
    if site is None:
        site = (frame.f_lineno, os.fsencode(frame.f_code.co_filename)[-_FILE:].ljust(_FILE, b"\0"))
        if len(_SITES) < 4096:
            _SITES[key] = site
    return site


def _acquired(semlock, rec, frame):
    """The slow path of an acquisition: a new site (or the first one in this process)."""
    i = _slot(semlock, rec)
    if i < 0:
        return
    c = rec[1] = rec[1] + 1
    words = _state["words"]
    base = rec[4] = i * _INTS
    depth = 0
    while frame is not None and depth < 8 and is_library(frame.f_code.co_filename):
        frame = frame.f_back
        depth += 1
    words[base + 14] = _get_ident()
    words[base + 16] = c
    if frame is None:
        return
    key = (frame.f_code, frame.f_lasti)
    rec[2] = key if depth == 0 else None  # the fast path knows a user frame only
    line, filename = _site(key, frame)
    words[base + 17] = line
    off = i * SLOT
    _state["mm"][off + 72:off + SLOT] = filename


try:
    from _thread import get_native_id as _get_ident
except ImportError:  # (before Python 3.8)
    from _thread import get_ident as _get_ident


def _track(lock):
    """Give this lock the tracking acquire/release (on the instance, as SemLock does)."""
    semlock = lock._semlock
    acquire, release = semlock.acquire, semlock.release
    getframe = sys._getframe
    # slot, count, last user site, generation, slot's first word, acquisitions seen here
    rec = [-1, 0, None, -1, 0, 0]
    gen = _GEN

    def tracked_acquire(block=True, timeout=None):
        got = acquire(block, timeout)
        if got:
            try:
                if rec[5] >= SAMPLE and rec[3] == gen[0]:
                    # the sites are known: only the count changes (no frame is looked at)
                    c = rec[1] = rec[1] + 1
                    _state["words"][rec[4] + 16] = c
                    return got
                rec[5] += 1
                f = getframe(1)
                if f.f_code is _ENTER_CODE:
                    f = f.f_back
                last = rec[2]
                if (last is not None and f.f_code is last[0] and f.f_lasti == last[1]
                        and rec[3] == gen[0]):
                    # the same line of user code as last time: the count and thread only
                    c = rec[1] = rec[1] + 1
                    words = _state["words"]
                    words[rec[4] + 16] = c
                    words[rec[4] + 14] = _get_ident()
                else:
                    _acquired(semlock, rec, f)
                if rec[5] >= SAMPLE:
                    _state["words"][rec[4] + 15] = rec[5]  # the site may be older from now on
            except Exception:
                pass
        return got

    def tracked_release():
        result = release()
        try:
            if rec[3] == gen[0] and rec[0] >= 0:
                c = rec[1] = rec[1] - 1
                _state["words"][rec[4] + 16] = c
        except Exception:
            pass
        return result

    lock.acquire = _method(tracked_acquire, semlock, "acquire")
    lock.release = _method(tracked_release, semlock, "release")


class _Method(functools.partial):
    """A tracked lock's acquire or release: called as the function it wraps (a C partial adds
    no Python frame), and pickled as the SemLock method it stands for, which fails as it does
    without the hooks (TypeError: cannot pickle '_multiprocessing.SemLock' object)."""

    def __reduce__(self):
        return getattr, (self.semlock, self.name)


def _method(func, semlock, name):
    m = _Method(func)
    m.semlock, m.name = semlock, name
    return m


_ENTER_CODE = None


def _wanted(lock, synchronize):
    """Whether a lock being created is the user's (see the module's docstring)."""
    frame = sys._getframe(2)  # _wanted < _make_methods < SemLock.__init__ < ...
    sync = synchronize.__file__
    context = os.path.join(os.path.dirname(sync), "context.py")
    depth = 0
    while frame is not None and depth < 12 and frame.f_code.co_filename == sync \
            and frame.f_locals.get("self") is lock:
        frame = frame.f_back  # the __init__ of the lock's own classes
        depth += 1
    while frame is not None and depth < 12 and frame.f_code.co_filename == context:
        frame = frame.f_back
        depth += 1
    if frame is None:
        return False
    creator = frame.f_code.co_filename
    if creator == sync:  # a Condition's, an Event's or a Barrier's own
        return lock._semlock.maxvalue == 1
    if creator.endswith("sharedctypes.py") and os.path.dirname(creator) == os.path.dirname(sync):
        return True  # Value(...).get_lock()
    return not is_library(creator)


def _register(name):
    d = _dir()
    if d is None or not name:
        return
    fd = os.open(os.path.join(d, "locks"),
                 os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.write(fd, name.encode("utf-8", "replace") + b"\n")
    finally:
        os.close(fd)


def _registered(name):
    """Whether the lock of that name was tracked where it was made (read again on a miss)."""
    tracked = _state["tracked"]
    if name in tracked:
        return True
    d = _dir()
    if d is None:
        return False
    try:
        with open(os.path.join(d, "locks"), "rb") as f:
            for line in f.read().splitlines():
                tracked.add(line.decode("utf-8", "replace"))
    except OSError:
        return False
    return name in tracked


def patch_locks(synchronize):
    import functools

    cls = getattr(synchronize, "SemLock", None)
    real = cls.__dict__.get("_make_methods") if cls is not None else None
    if real is None:
        return

    def _make_methods(self):
        real(self)
        try:
            caller = sys._getframe(1).f_code.co_name
            name = getattr(self._semlock, "name", None)
            if caller == "__setstate__":
                if name and _registered(name):
                    _track(self)
            elif _wanted(self, synchronize):
                _track(self)
                if name:
                    _register(name)
        except Exception:
            pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *args):
        return self.release()

    global _ENTER_CODE
    _ENTER_CODE = __enter__.__code__
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_fork_in_child)
    functools.update_wrapper(_make_methods, real)
    for new, old in ((__enter__, cls.__dict__.get("__enter__")),
                     (__exit__, cls.__dict__.get("__exit__"))):
        if old is not None:
            functools.update_wrapper(new, old)
    cls._make_methods = _make_methods
    cls.__enter__ = __enter__
    cls.__exit__ = __exit__


def parse(data):
    """The slots of a ledger file's bytes, for the watchdog: (key, name, tid, count, line,
    file, sampled) for every slot in use (``sampled``: the thread and line were recorded for
    the first acquisitions only); nothing for bytes that are not a ledger."""
    out = []
    for i in range(min(SLOTS, len(data) // SLOT)):
        off = i * SLOT
        raw = data[off:off + SLOT]
        key = raw[:24].rstrip(b"\0")
        if not key:
            continue
        try:
            out.append((key.decode("ascii"), raw[24:56].rstrip(b"\0").decode("utf-8", "replace"),
                        int.from_bytes(raw[56:60], "little"),
                        int.from_bytes(raw[64:68], "little", signed=True),
                        int.from_bytes(raw[68:72], "little"),
                        os.fsdecode(raw[72:].rstrip(b"\0")),
                        int.from_bytes(raw[60:64], "little") >= SAMPLE))
        except ValueError:
            continue
    return out
