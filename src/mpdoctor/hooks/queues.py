"""Put sites (standard library only): the queue's buffer remembers where items were put, and
the first item from each line is announced with the queue's pipe (``put-site`` events).
Patch: ``patch_queues`` (multiprocessing.queues).

Per-put cost: the queue's buffer is a deque subclass whose ``append`` also stores the caller's
line (one Python-level call and one dict store) for the first ``SAMPLE`` puts only.
"""

import os
import sys

from mpdoctor.hooks import channel, protocol
from mpdoctor.hooks.origin import is_library as _is_library


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
            self.sampled = 0  # puts looked at (the same object put again counts again)

        def append(self, obj, _getframe=sys._getframe, _lib=_is_library):
            deque.append(self, obj)
            if type(obj) is object:
                return  # close()'s sentinel
            try:
                self.sampled += 1
                if self.sampled >= self.SAMPLE:
                    self.append = deque.append.__get__(self)  # enough: full speed from now on
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


def patch_queues(queues):
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
