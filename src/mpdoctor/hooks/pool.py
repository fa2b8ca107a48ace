"""Pools (standard library only): each map/apply result remembers the call and the line that
created it, and a worker the pool found dead is reported with the results still pending and
their calls (``pool-worker-exit``).  Patch: ``patch_pool`` (multiprocessing.pool).
"""

import sys
from time import monotonic as _monotonic

from mpdoctor.hooks import channel, origin, protocol

_POOL_PY = "multiprocessing/pool.py"

#: the first ALWAYS results a process makes record where they were made; after that, one at
#: most every SAMPLE_GAP seconds.  Looking up the caller's frame costs a few microseconds,
#: and a tight loop of ``apply_async(...).get()`` on a ThreadPool (about 130 us a call) is
#: slowed by several times that: a 20,000-call loop took 16% longer with a site on every
#: result.  A long-lived program's many results are then sampled: a report of pending
#: results names the site of those that have one.
ALWAYS = 256
SAMPLE_GAP = 0.005
_made = [0, 0.0]  # results made, and when the next one past ALWAYS may record its site


def patch_pool(mpool):
    import functools

    def wrap_init(cls):
        real = cls.__init__

        def __init__(self, *args, **kwargs):
            real(self, *args, **kwargs)
            try:
                # kept on the result, for a dead worker's report of what is still pending
                # (nothing is sent: most calls end well, and a datagram each would cost more
                # than the call); the text of the site is made only when a report needs it.
                # Sampled past the first ALWAYS results (see SAMPLE_GAP).
                _made[0] += 1
                if _made[0] > ALWAYS:
                    now = _monotonic()
                    if now < _made[1]:
                        return
                    _made[1] = now + SAMPLE_GAP
                self._mpdoctor_at, self._mpdoctor_op = _at_and_op(sys._getframe(1))
            except Exception:
                pass

        functools.update_wrapper(__init__, real)
        cls.__init__ = __init__
        cls._mpdoctor_site = property(_site)

    wrap_init(mpool.ApplyResult)  # MapResult calls ApplyResult.__init__
    wrap_init(mpool.IMapIterator)

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


def _at_and_op(frame):
    """Where a pool result was made, from ``frame`` (the frame that made it): ``(file, line)``
    of the innermost user frame, and the Pool method the user called (map, starmap,
    apply_async, imap, ...: the outermost pool.py frame below the user's)."""
    op = None
    f, depth = frame, 0
    while f is not None and depth < 10 and f.f_code.co_filename.endswith(_POOL_PY):
        op = f.f_code.co_name
        f = f.f_back
        depth += 1
    return origin.user_at(frame), op


def _site(result):
    """``file:line`` of the user's call that made ``result`` (None when not known)."""
    at = result.__dict__.get("_mpdoctor_at")
    return "%s:%d" % at if at is not None else None
