"""Hangs: the parent waits (no timeout) for a 'ready' Event the child sets only on success;
the child fails first, so nobody will ever set it.

    python event_never_set.py [START_METHOD]
"""

import multiprocessing
import sys


def serve(ready):
    raise OSError("cannot bind the port")  # fails before ready.set()
    ready.set()


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    ready = ctx.Event()
    p = ctx.Process(target=serve, args=(ready,))
    p.start()
    ready.wait()
    print("server is up")
    p.join()
