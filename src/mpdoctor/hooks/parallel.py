"""joblib (standard library only): ``Parallel`` collects its results in a polling loop
(``Parallel._retrieve`` sleeps 10 ms between looks at the first pending job), so from the
outside the thread that waits looks busy.  Only the backend's callback thread can end that
loop, unless ``Parallel(timeout=...)`` was given; each thread that enters the loop says once,
per process, whether its wait has such a deadline (``joblib-wait``).  Patch:
``patch_parallel`` (joblib.parallel).
"""

from mpdoctor.hooks import channel, protocol

#: native thread id -> the deadline it last reported (one event per change, not per call; a
#: forked child's only thread has a new id)
_told = {}  # type: dict


def _tell(parallel):
    import threading

    tid = threading.get_native_id()
    deadline = getattr(parallel, "timeout", None) is not None
    if _told.get(tid) is deadline:
        return
    _told[tid] = deadline
    channel.send(protocol.JOBLIB_WAIT, tid=tid, deadline=deadline)


def patch_parallel(jparallel):
    import functools
    import inspect

    cls = getattr(jparallel, "Parallel", None)
    real = cls.__dict__.get("_retrieve") if cls is not None else None
    if real is None or not inspect.isgeneratorfunction(real):
        return  # (older versions block in the pool's own get(): nothing to tell)

    def _retrieve(self, *args, **kwargs):
        try:
            _tell(self)
        except Exception:
            pass
        return (yield from real(self, *args, **kwargs))

    functools.update_wrapper(_retrieve, real)
    cls._retrieve = _retrieve
