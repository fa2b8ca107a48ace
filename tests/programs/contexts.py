"""Every entry point mpdoctor's hooks wrap, called from unusual places: the output must be the
same with and without the hooks (stdout, stderr, exit status).

    python contexts.py [START_METHOD]
"""

import _thread
import atexit
import gc
import multiprocessing
import multiprocessing.pool
import os
import signal
import sys
import threading
import traceback
import weakref


def square(x):
    return x * x


def child(q):
    q.put("from a child")


class Dropper:
    def __init__(self, q):
        self.q = q

    def __del__(self):
        self.q.put("from __del__")


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue()
    got = []

    # a thread started on the bound method itself: put() has no Python caller
    done = _thread.allocate_lock()
    done.acquire()
    _thread.start_new_thread(lambda: (q.put("from a C-started thread"), done.release()), ())
    _thread.start_new_thread(q.put, ("from start_new_thread(q.put)",))
    done.acquire()
    t = threading.Thread(target=q.put, args=("from Thread(target=q.put)",))
    t.start()
    t.join()
    got += sorted(q.get(timeout=30) for _ in range(3))

    # a signal handler
    signal.signal(signal.SIGUSR1, lambda *a: q.put("from a signal handler"))
    os.kill(os.getpid(), signal.SIGUSR1)
    got.append(q.get(timeout=30))

    # __del__ and a weakref callback
    d = Dropper(q)
    del d
    gc.collect()
    got.append(q.get(timeout=30))

    class Thing:
        pass

    thing = Thing()
    ref = weakref.ref(thing, lambda r: q.put("from a weakref callback"))
    del thing
    gc.collect()
    got.append(q.get(timeout=30))
    assert ref() is None

    # timers armed from odd places
    _thread.start_new_thread(signal.alarm, (0,))
    t = threading.Thread(target=signal.setitimer, args=(signal.ITIMER_REAL, 0))
    t.start()
    t.join()
    print("alarm(0) returns", signal.alarm(0), flush=True)
    try:
        signal.alarm("x")
    except TypeError as exc:
        print("alarm('x'):", type(exc).__name__, flush=True)

    # pools, a process, traceback.print_exc from a callback thread
    with ctx.Pool(2) as pool:
        got.append(pool.apply_async(square, (7,)).get(timeout=60))
        got.append(sum(pool.map(square, range(10))))
        got.append(pool.apply_async(square, (3,), callback=lambda r: None).get(timeout=60))
    with multiprocessing.pool.ThreadPool(2) as tp:
        got.append(sum(tp.map(square, range(5))))
    p = ctx.Process(target=child, args=(q,))
    p.start()
    got.append(q.get(timeout=60))
    p.join()
    try:
        raise ValueError("printed by traceback.print_exc")
    except ValueError:
        traceback.print_exc(file=sys.stdout)

    # what users can see of the interpreter's own machinery
    print("sys.excepthook is sys.__excepthook__:", sys.excepthook is sys.__excepthook__)
    # (threading.__excepthook__ is 3.10 and later)
    print("threading.excepthook is threading.__excepthook__:",
          threading.excepthook is getattr(threading, "__excepthook__", threading.excepthook))
    print("Process attributes:", sorted(vars(ctx.Process())))
    print("Queue attributes:", sorted(vars(q)))

    for item in got:
        print(item, flush=True)

    # a thread that dies of an exception, and puts at interpreter shutdown
    t = threading.Thread(target=lambda: 1 / 0, name="failing")
    t.start()
    t.join()
    # (atexit runs the last registered first)
    atexit.register(lambda: print("at exit:", q.get(timeout=30), flush=True))
    atexit.register(q.put, "from atexit")
    raise SystemExit(3)


if __name__ == "__main__":
    main()
