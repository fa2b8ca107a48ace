"""Two licences of a native solver are shared through a BoundedSemaphore(2).  The solver
library calls exit() on malformed input (os._exit here), so each worker that meets a bad
file dies with its slot taken and never releases it.  After two bad files no slot is left:
the next worker waits in acquire() forever, and the parent waits in join() for it.

Rewritten from noxdafox/pebble#163 (a worker that exits while holding a process-shared lock
wedges the pool for good) and richardsheridan/trio-parallel#25 (a worker killed while it
holds a SemLock deadlocks the others)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def solve(slots, path):
    slots.acquire()
    try:
        if path.endswith(".bad"):
            os._exit(3)                # the native solver's exit() on a parse error
        print("solved", path, flush=True)
    finally:
        slots.release()


if __name__ == "__main__":
    slots = CTX.BoundedSemaphore(2)
    for path in ("a.bad", "b.bad", "c.lp"):
        worker = CTX.Process(target=solve, args=(slots, path))
        worker.start()
        worker.join()                  # the third worker never gets a slot
        print(path, "->", worker.exitcode, flush=True)
