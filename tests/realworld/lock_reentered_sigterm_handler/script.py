"""A worker updates its checkpoint under a state lock.  Its SIGTERM handler, meant to save
the state before exiting, takes the same non-reentrant multiprocessing.Lock.  Python runs
signal handlers in the main thread, between two bytecodes of whatever it was doing: when the
parent stops the worker while it is inside the locked region, the handler waits for a lock
held by the frame it interrupted, which can never resume.  The parent waits in join().

Rewritten from python/cpython#126434 (multiprocessing.Event.set() deadlocks when called from
a signal handler that interrupted is_set()) and sabnzbd/sabnzbd#3534 (a second SIGTERM
during shutdown re-enters a non-reentrant lock held by the interrupted frame)."""
import multiprocessing as mp
import os
import signal
import sys

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def worker(state_lock, checkpoint, inside, more_data):
    def save_and_exit(signum, frame):
        with state_lock:               # same lock as the interrupted frame holds
            checkpoint.value = -1
        sys.exit(0)

    signal.signal(signal.SIGTERM, save_and_exit)
    with state_lock:
        checkpoint.value += 1
        inside.set()
        more_data.wait()               # SIGTERM arrives here, lock held


if __name__ == "__main__":
    state_lock = CTX.Lock()
    checkpoint = CTX.Value("i", 0, lock=False)
    inside, more_data = CTX.Event(), CTX.Event()
    proc = CTX.Process(target=worker, args=(state_lock, checkpoint, inside, more_data))
    proc.start()
    inside.wait()
    proc.terminate()                   # "please save and stop"
    proc.join()
    print("worker stopped with", proc.exitcode)
