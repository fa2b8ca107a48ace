"""A loader reads its input while holding a Condition's lock (the consumers wait on that
Condition for data).  The parent's watchdog finds the loader slow and terminate()s it.  The
docs warn that a process terminated while it holds a lock can deadlock the others: the lock
of the Condition is never released, and the parent's own `with cond:` blocks forever.

Rewritten from the superfastpython.com tutorial on recovering a mutex broken by terminating
a child, and the Process.terminate() warning in the multiprocessing documentation."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def loader(cond, inside, source):
    with cond:
        inside.set()
        chunk = source.recv()          # the input stalls while the lock is held
        print("loaded", len(chunk), flush=True)
        cond.notify_all()


if __name__ == "__main__":
    cond = CTX.Condition()
    inside = CTX.Event()
    source, feed = CTX.Pipe(duplex=False)
    proc = CTX.Process(target=loader, args=(cond, inside, source))
    proc.start()
    inside.wait()
    proc.join(timeout=0.2)             # the watchdog's patience
    if proc.is_alive():
        print("loader too slow, terminating it", flush=True)
        proc.terminate()
        proc.join()
    with cond:                         # the terminated loader still holds the lock
        cond.notify_all()
    print("done")
