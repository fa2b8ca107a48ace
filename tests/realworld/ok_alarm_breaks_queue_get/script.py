"""Control (finishes): the parent waits in Queue.get() without a timeout for a result from a
worker that is itself blocked forever (it waits for an Event nobody sets).  A SIGALRM
timer set with signal.alarm(3) interrupts the wait: its handler raises TimeoutError, the
parent terminates the worker and exits normally.  The kernel shows no trace of the pending
alarm in /proc, yet the wait does end.

Rewritten from chamila.dev's "Timing out of long running methods in Python" (SIGALRM with
signal.alarm() and a handler that raises) and runebook.dev's "Understanding signal.SIGALRM
for Networking and Interprocess Communication in Python"."""
import multiprocessing as mp
import os
import signal

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def stuck(never, results):
    never.wait()
    results.put("unreachable")


def on_alarm(signum, frame):
    raise TimeoutError("no result within 3 s")


if __name__ == "__main__":
    never, results = CTX.Event(), CTX.Queue()
    worker = CTX.Process(target=stuck, args=(never, results))
    worker.start()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(3)
    try:
        print(results.get())
    except TimeoutError as exc:
        print("gave up:", exc, flush=True)
        worker.terminate()
    worker.join()
