"""A metrics thread holds the registry lock while it exports a snapshot.  Meanwhile the main
thread submits work to a ProcessPoolExecutor that uses fork: the worker is forked while the
lock is held, and inherits the lock locked, without the thread that would release it.  The
task records a metric, waits for the lock forever, and future.result() never returns.
With spawn or forkserver the worker starts with a fresh lock.

Rewritten from awslabs/graphrag-toolkit#419 (a forked ProcessPoolExecutor worker inherits a
lock held by a logging thread and the extraction hangs with no error), OpenHands/benchmarks
#459 and hyperledger-archives/sawtooth-core#490 (fork while another thread holds a lock)."""
import multiprocessing as mp
import os
import threading
from concurrent.futures import ProcessPoolExecutor

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)

registry_lock = threading.Lock()
registry = {}


def record(name, value):
    with registry_lock:
        registry[name] = value


def export_snapshots(holding, finished):
    with registry_lock:                # a slow export, holding the lock
        holding.set()
        finished.wait()


def score(x):
    record("last_input", x)
    return x * x


if __name__ == "__main__":
    holding, finished = threading.Event(), threading.Event()
    threading.Thread(target=export_snapshots, args=(holding, finished), daemon=True).start()
    holding.wait()
    with ProcessPoolExecutor(max_workers=1, mp_context=CTX) as pool:
        print("score:", pool.submit(score, 7).result())
    finished.set()
