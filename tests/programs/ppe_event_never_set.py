"""ProcessPoolExecutor workers wait for an Event nobody sets; the parent waits in map().
The executor's manager thread then waits for its workers too: that is the workers' finding
(never-signalled), not one of its own.

    python ppe_event_never_set.py [start method]
"""
import concurrent.futures as cf
import multiprocessing as mp
import sys

EVENT = None


def init(event):
    global EVENT
    EVENT = event


def task(i):
    EVENT.wait()                        # never set
    return i


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    event = ctx.Event()
    with cf.ProcessPoolExecutor(2, mp_context=ctx, initializer=init, initargs=(event,)) as ex:
        print(list(ex.map(task, range(4))))
