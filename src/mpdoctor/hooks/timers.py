"""The timers a process arms for itself: ``signal.alarm()`` and ``signal.setitimer()``.

A wait that a timer will end (its handler raises, or its default action ends the process) is
not a deadlock, and the kernel does not show these timers to anyone else.  So each process
reports its ``ITIMER_REAL`` state once when the hooks start (a timer survives ``exec``), once
in a child right after ``fork`` (the kernel clears them there), and after every call that
changes it (``hello`` and ``timer`` events).  The state comes from ``getitimer()`` after the
call, so it is exact whatever the arguments were.

The wrappers call the real function first and return what it returned; only when that call
itself raises (a bad argument) does a frame of theirs show in the traceback.
"""

import _signal
import sys
import time

from mpdoctor.hooks import channel, protocol

_WHICH = {0: "real", 1: "virtual", 2: "prof"}


def _state():
    remaining, interval = _signal.getitimer(_signal.ITIMER_REAL)
    return remaining, interval


def _start_time():
    """This process's start time in clock ticks (/proc/self/stat): with the pid, it names this
    process and no later one that reuses the pid."""
    try:
        import os
        fd = os.open("/proc/self/stat", os.O_RDONLY)
        try:
            text = os.read(fd, 1024).decode("ascii", "replace")
        finally:
            os.close(fd)
        return int(text[text.rindex(")") + 2:].split()[19])
    except Exception:
        return None


def hello(fork=False, parent=None):
    """Announce this process: its hooks run, and its ITIMER_REAL state (and, after a fork,
    who forked it and the pipes and sockets it inherited)."""
    try:
        remaining, interval = _state()
        inherited = None
        if fork:
            from mpdoctor.hooks.processes import inherited as _inherited
            inherited = _inherited()
        channel.send_closing(protocol.HELLO, remaining=remaining, interval=interval,
                             mono=time.monotonic(), fork=fork, start=_start_time(),
                             inherited=inherited, parent=parent)
    except Exception:
        pass


def _report(which):
    """Called by a wrapper: the caller's frame is two levels up (absent for a call from C)."""
    try:
        remaining, interval = _signal.getitimer(which)
        site = None
        try:
            from mpdoctor.hooks.origin import user_site as _user_site
            site = _user_site(sys._getframe(2))
        except Exception:
            pass
        channel.send(protocol.TIMER, which=_WHICH.get(which, str(which)), remaining=remaining,
                     interval=interval, mono=time.monotonic(), site=site)
    except Exception:
        pass


def patch_signal(signal):
    """Wrap ``signal.alarm`` and ``signal.setitimer`` (applied when ``signal`` is imported)."""
    import functools

    real_alarm = signal.alarm
    real_setitimer = signal.setitimer

    def alarm(seconds):
        result = real_alarm(seconds)
        _report(_signal.ITIMER_REAL)
        return result

    def setitimer(which, seconds, interval=0.0):
        result = real_setitimer(which, seconds, interval)
        _report(which)
        return result

    for wrapper, real in ((alarm, real_alarm), (setitimer, real_setitimer)):
        functools.update_wrapper(wrapper, real)
        wrapper.__wrapped__ = real
    signal.alarm = alarm
    signal.setitimer = setitimer
