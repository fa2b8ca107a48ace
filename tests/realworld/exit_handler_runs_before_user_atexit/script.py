"""The service stops its non-daemon metrics process from an atexit handler, registered when
the service module is loaded, before multiprocessing is imported.  atexit runs handlers in
reverse order of registration, so multiprocessing's own exit handler, registered later when
multiprocessing was imported, runs first: it joins every non-daemon child, including the
metrics process, which is still waiting for the stop event that the service's handler
would have set.

Rewritten from python/cpython#114220 (multiprocessing's _exit_function runs before the
user's atexit handlers, which would have stopped the child), rwth-i6/returnn#1497 and
wool-labs/wool#294 (a live non-daemon worker wedges interpreter exit via multiprocessing's
atexit join)."""
import atexit
import os

_stop = None


def _stop_metrics():
    if _stop is not None:
        _stop.set()


atexit.register(_stop_metrics)          # the service's shutdown hook

import multiprocessing as mp            # noqa: E402  (its exit handler is registered now)

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def push_metrics(stop, running):
    running.set()
    stop.wait()
    print("metrics pusher stopped", flush=True)


if __name__ == "__main__":
    _stop, running = CTX.Event(), CTX.Event()
    CTX.Process(target=push_metrics, args=(_stop, running), name="metrics").start()
    running.wait()
    print("service finished its work", flush=True)
