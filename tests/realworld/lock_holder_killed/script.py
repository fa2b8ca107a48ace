"""A worker takes the lock that serialises appends to a shared report, then is killed before
it can release it (SIGKILL, the way the kernel's OOM killer ends a process).  A
multiprocessing.Lock is a semaphore without an owner: nothing releases it when its holder
dies, so the parent's next acquire() waits forever.

Rewritten from python/cpython#88304 (what happens to a Lock whose holder dies is not
documented) and birdnet-team/birdnet#73 (a worker killed mid-batch deadlocks the others)."""
import multiprocessing as mp
import os
import signal

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def append_rows(report_lock, holding):
    report_lock.acquire()
    holding.set()
    # the batch does not fit in the container's memory: the kernel kills the worker here
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    report_lock = CTX.Lock()
    holding = CTX.Event()
    worker = CTX.Process(target=append_rows, args=(report_lock, holding))
    worker.start()
    holding.wait()
    worker.join()
    print("worker exited with", worker.exitcode, flush=True)
    with report_lock:                  # the dead worker still "holds" it: never returns
        print("writing the summary line")
