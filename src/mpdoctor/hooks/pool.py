"""Pools (standard library only): each map/apply result remembers the call and the line that
created it, and a worker the pool found dead is reported with the results still pending and
their calls (``pool-worker-exit``).  Patch: ``patch_pool`` (multiprocessing.pool).
"""

import sys

from mpdoctor.hooks import channel, protocol
from mpdoctor.hooks.origin import user_site as _user_site


def patch_pool(mpool):
    import functools

    def wrap_init(cls, op_of):
        real = cls.__init__

        def __init__(self, *args, **kwargs):
            real(self, *args, **kwargs)
            try:
                # kept on the result, for a dead worker's report of what is still pending
                # (nothing is sent: most calls end well, and a datagram each would cost more
                # than the call)
                caller = sys._getframe(1)
                self._mpdoctor_site, self._mpdoctor_op = _user_site(caller), op_of(caller)
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
