"""Python stacks on request, for when py-spy cannot read a process (standard library only).

py-spy reads a process from outside; it fails on an interpreter it does not know yet, on a very
deep recursion ("Failed to find a python interpreter"), or when ptrace is refused.  Then the
watchdog asks the process itself: ``faulthandler`` is registered on a spare real-time signal
and writes the stack of the thread that receives it into an in-memory file.  The watchdog sends
the signal to one thread at a time (``tgkill``), so each dump is that thread's, and reads the
file through ``/proc/PID/fd``.  faulthandler's handler is async-signal-safe C: it works while
the thread is blocked in a system call (the call is restarted after it, ``SA_RESTART``) and it
takes no lock the program could hold.

The file is a ``memfd`` named ``mpdoctor-stacks-<signal>``: its name tells the watchdog which
signal to send, so nothing else has to travel.  Nothing here may change what the program does:

* the signal is one that nobody handles (its disposition is still the default) counted down from
  ``SIGRTMAX``; faulthandler chains to a previous handler when there is one (never the case for
  the signal chosen: chaining to the default action would end the process);
* the fd is close-on-exec and moved above the low numbers a program may count on;
* a forked child gets a file and a registration of its own (``os.register_at_fork``), so its
  stacks never land in its parent's file.
"""

import os

PREFIX = "mpdoctor-stacks-"
#: fds below this are left to the program (dup'ed above it)
HIGH_FD = 512
_state = {"fd": None, "signal": None, "pid": None, "at_fork": False}


def _pick_signal(signal):
    for signum in range(signal.SIGRTMAX, signal.SIGRTMIN + 1, -1):
        try:
            if signal.getsignal(signum) == signal.SIG_DFL:
                return signum
        except (ValueError, OSError):
            continue
    return None


def _high(fd):
    try:
        import fcntl
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
    except Exception:
        return fd
    os.close(fd)
    return high


def install():
    """Register the dump on a spare signal in this process (once per process)."""
    if _state["pid"] == os.getpid():
        return
    if not hasattr(os, "memfd_create"):
        return
    import _signal as signal  # (the C module: ``signal`` imports enum, at every start-up)
    import faulthandler

    signum = _state["signal"] or _pick_signal(signal)
    if signum is None:
        return
    fd = _high(os.memfd_create("%s%d" % (PREFIX, signum), os.MFD_CLOEXEC))
    previous = signal.getsignal(signum)
    chain = previous not in (signal.SIG_DFL, signal.SIG_IGN, None)
    try:
        faulthandler.register(signum, file=fd, all_threads=False, chain=chain)
    except Exception:
        os.close(fd)
        return
    old = _state["fd"]
    _state.update(fd=fd, signal=signum, pid=os.getpid())
    if old is not None and old != fd:
        try:
            os.close(old)  # the parent's file, inherited at fork
        except OSError:
            pass
    if not _state["at_fork"] and hasattr(os, "register_at_fork"):
        _state["at_fork"] = True
        os.register_at_fork(after_in_child=_after_fork)


def _after_fork():
    try:
        install()
    except Exception:
        pass


def installed():
    """(signal, fd) in this process, or None."""
    if _state["pid"] != os.getpid():
        return None
    return _state["signal"], _state["fd"]

