"""The parent reads results with get(timeout=0.5) "so that it never hangs", and on
queue.Empty simply tries again until it has one result per worker.  One worker dies in
native code (os._exit) before it puts its result.  The loop wakes up twice a second, forever.

Rewritten from birdnet-team/birdnet#83 (a consumer that reads with get(timeout=1.0) still
hangs when a worker is killed) and VIDA-NYU/alpha-automl#60 (a timeout added to
Queue().get() without handling the dead process)."""
import multiprocessing as mp
import os
import queue

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def work(n, results):
    if n == 1:
        os._exit(1)                    # the extension module aborts
    results.put((n, n * n))


if __name__ == "__main__":
    results = CTX.Queue()
    workers = [CTX.Process(target=work, args=(n, results)) for n in range(3)]
    for w in workers:
        w.start()
    collected = {}
    while len(collected) < len(workers):
        try:
            n, value = results.get(timeout=0.5)
        except queue.Empty:
            continue                   # "not yet": try again
        collected[n] = value
    for w in workers:
        w.join()
    print(collected)
