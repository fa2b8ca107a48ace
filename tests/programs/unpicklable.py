"""Sends something that cannot be pickled through one multiprocessing operation.

    python unpicklable.py OPERATION [START_METHOD]

OPERATION: process-start, pool-map, pool-apply-async, pool-imap, pool-starmap, pool-result,
queue-put, simplequeue-put, connection-send, manager-call, executor-submit.
"""

import multiprocessing
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor


class Holder:
    """Holds a lock: instances cannot be pickled."""

    def __init__(self):
        self.name = "holder"
        self.lock = threading.Lock()

    def work(self, x):
        return x


def identity(x):
    return x


def make_unpicklable(x):
    return Holder()


def put_then_wait(q):
    q.put(Holder())
    time.sleep(0.3)


def main(op, ctx):
    h = Holder()
    if op == "process-start":
        p = ctx.Process(target=identity, args=(h,))
        p.start()
        p.join()
    elif op.startswith("pool"):
        with ctx.Pool(2) as pool:
            if op == "pool-map":
                pool.map(h.work, [1, 2])
            elif op == "pool-apply-async":
                pool.apply_async(identity, (h,)).get(timeout=60)
            elif op == "pool-imap":
                list(pool.imap(identity, [h]))
            elif op == "pool-starmap":
                pool.starmap(identity, [(h,)])
            elif op == "pool-result":
                pool.map(make_unpicklable, [1])
    elif op == "queue-put":
        q = ctx.Queue()
        p = ctx.Process(target=put_then_wait, args=(q,))
        p.start()
        p.join()
        print("child exited", p.exitcode, flush=True)
    elif op == "simplequeue-put":
        ctx.SimpleQueue().put(h)
    elif op == "connection-send":
        a, b = ctx.Pipe()
        a.send(h)
    elif op == "manager-call":
        with ctx.Manager() as m:
            d = m.dict()
            d["x"] = h
    elif op == "executor-submit":
        with ProcessPoolExecutor(1, mp_context=ctx) as ex:
            ex.submit(identity, h).result(timeout=60)
    else:
        raise SystemExit(f"unknown operation {op}")


if __name__ == "__main__":
    main(sys.argv[1], multiprocessing.get_context(sys.argv[2] if len(sys.argv) > 2 else None))
