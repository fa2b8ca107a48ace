"""Control (finishes): the main loop sleeps in os.read() on a wake-up pipe that only the
interpreter's signal machinery writes to (signal.set_wakeup_fd), while a worker waits for
an Event.  A setitimer() timer fires after 3 s; its handler sets a flag, the interpreter
writes the signal number to the wake-up pipe, the loop wakes up, sees the flag, releases
the worker and ends.  To the kernel this looks like a read on a pipe that no other process
can write: only the pending timer (invisible in /proc) ends it.

Rewritten from runebook.dev's "Common Pitfalls and Alternatives to signal.set_wakeup_fd()"
(the C-level handler writes a byte to the wake-up fd, which wakes the blocked I/O call) and
chirayuk.com's signal snippets (set_wakeup_fd with a pipe; setitimer)."""
import multiprocessing as mp
import os
import signal

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)
stop = False


def on_timer(signum, frame):
    global stop
    stop = True


def worker(go):
    go.wait()
    print("worker released", flush=True)


if __name__ == "__main__":
    go = CTX.Event()
    proc = CTX.Process(target=worker, args=(go,))
    proc.start()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGALRM, on_timer)
    signal.setitimer(signal.ITIMER_REAL, 3.0)
    while not stop:
        os.read(wake_r, 1)             # woken by the timer's signal
    go.set()
    proc.join()
    print("stopped by the timer")
