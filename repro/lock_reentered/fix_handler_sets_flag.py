"""The fix: the SIGTERM handler only sets a flag; the worker's own code checks it between
steps and writes the final checkpoint outside the `with lock:` block."""

import multiprocessing as mp
import signal
import sys


def worker(lock, progress, inside, more):
    stopping = []

    def please_stop(signum, frame):
        stopping.append(signum)         # no lock here: just note the request

    signal.signal(signal.SIGTERM, please_stop)
    with lock:
        progress.value += 1
        inside.set()
    while not stopping and not more.wait(0.05):
        pass
    with lock:                          # the final checkpoint, taken by the worker's own code
        progress.value = -1


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    lock = ctx.Lock()
    progress = ctx.Value("i", 0, lock=False)
    inside, more = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=worker, args=(lock, progress, inside, more))
    proc.start()
    inside.wait()
    proc.terminate()                    # "please checkpoint and stop"
    proc.join()
    print("worker stopped with", proc.exitcode, "checkpoint", progress.value)
