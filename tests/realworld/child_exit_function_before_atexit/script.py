"""A worker process starts its own non-daemon helper and registers an atexit handler that
stops the helper.  Up to Python 3.12 a multiprocessing child calls multiprocessing's exit
function (which joins non-daemon children) as soon as its target returns, before, or
instead of, the atexit handlers: the worker joins a helper that only its atexit handler
would have stopped, and the parent joins the worker.  Python 3.13 honours atexit in
children (gh-83856) and the program ends.

Rewritten from python/cpython#114220 ("Process _bootstrap calls _exit_function") and
rwth-i6/returnn#1497 (NonDaemonicSpawnProcess hangs at exit)."""
import atexit
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def helper(stop, running):
    running.set()
    stop.wait()


def worker():
    stop, running = CTX.Event(), CTX.Event()
    CTX.Process(target=helper, args=(stop, running), name="prefetcher").start()
    running.wait()
    atexit.register(stop.set)          # "stop the prefetcher when this worker exits"
    print("worker done", flush=True)


if __name__ == "__main__":
    proc = CTX.Process(target=worker)
    proc.start()
    proc.join()
    print("all done")
