"""Control (finishes): a worker waits on a Barrier that the third party never reaches, but
with a timeout: after 3 s wait() raises BrokenBarrierError, the worker reports it and
exits; the parent joins.  The wait looks like the deadlock of a missing party, but it has
a deadline.

The fixed form suggested in SemiAnalysisAI/InferenceX#1102 (use barrier.wait(timeout=N) and
catch BrokenBarrierError) and python/cpython#123899 (barrier waits with a timeout)."""
import multiprocessing as mp
import os
import threading

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def load(n, barrier):
    try:
        barrier.wait(timeout=3)
    except threading.BrokenBarrierError:
        print("loader", n, "gave up waiting", flush=True)


if __name__ == "__main__":
    barrier = CTX.Barrier(3)
    loaders = [CTX.Process(target=load, args=(n, barrier)) for n in range(2)]
    for p in loaders:
        p.start()
    for p in loaders:
        p.join()
    print("exit codes", [p.exitcode for p in loaders])
