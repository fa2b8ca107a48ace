"""Correct multiprocessing programs with deterministic output, to compare runs with and without
mpdoctor.

    python correct.py MODE [START_METHOD]
"""

import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory


def square(x):
    return x * x


def add(a, b):
    return a + b


def set_event(e, v):
    v.value = 7
    e.set()


def fill(name, n):
    shm = shared_memory.SharedMemory(name=name)
    shm.buf[:n] = bytes(range(n))
    shm.close()


def grandchild(q):
    q.put("grandchild")


def child_starting_child(q, method):
    ctx = multiprocessing.get_context(method)
    p = ctx.Process(target=grandchild, args=(q,))
    p.start()
    p.join()
    q.put("child")


def failing():
    raise ValueError("expected failure in the child")


def handler_child(q):
    signal.signal(signal.SIGUSR1, lambda *a: q.put("got SIGUSR1"))
    os.kill(os.getpid(), signal.SIGUSR1)


def main(mode, method):
    ctx = multiprocessing.get_context(method)
    if mode == "pool":
        with ctx.Pool(2) as pool:
            print(pool.map(square, range(10)))
            print(pool.starmap(add, [(1, 2), (3, 4)]))
            print(pool.apply_async(square, (7,)).get())
            print(sorted(pool.imap_unordered(square, range(5))))
    elif mode == "manager":
        with ctx.Manager() as m:
            d, q = m.dict(), m.Queue()
            with ctx.Pool(2) as pool:
                pool.starmap(d.__setitem__, [(i, i * i) for i in range(4)])
            q.put("through the manager")
            print(sorted(d.items()), q.get())
    elif mode == "events":
        e, v = ctx.Event(), ctx.Value("i", 0)
        p = ctx.Process(target=set_event, args=(e, v))
        p.start()
        e.wait()
        p.join()
        print("event set", v.value, p.exitcode)
    elif mode == "shared_memory":
        shm = shared_memory.SharedMemory(create=True, size=16)
        try:
            p = ctx.Process(target=fill, args=(shm.name, 16))
            p.start()
            p.join()
            print(list(shm.buf[:16]))
        finally:
            shm.close()
            shm.unlink()
    elif mode == "nested":
        q = ctx.Queue()
        p = ctx.Process(target=child_starting_child, args=(q, method))
        p.start()
        print(q.get(), q.get())
        p.join()
    elif mode == "signals":
        q = ctx.Queue()
        p = ctx.Process(target=handler_child, args=(q,))
        p.start()
        print(q.get())
        p.join()
    elif mode == "start_method":
        multiprocessing.set_start_method(method, force=True)
        with multiprocessing.Pool(1) as pool:
            print(multiprocessing.get_start_method(), pool.map(square, [3]))
    elif mode == "executor":
        with ProcessPoolExecutor(2, mp_context=ctx) as ex:
            print(list(ex.map(square, range(6))))
    elif mode == "child_fails":
        p = ctx.Process(target=failing, name="Worker")
        p.start()
        p.join()
        print("child exit code", p.exitcode)
        sys.exit(3)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
