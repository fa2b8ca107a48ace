"""Control (finishes): a consumer waits in get() on a Manager().Queue(), whose wait happens
inside a thread of the manager's server process; the producer puts its item after 3 s.

Rewritten from jruere/multiprocessing-logging#54 (use multiprocessing.Manager().Queue()
with ProcessPoolExecutor, as the logging cookbook recommends)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def produce(q):
    time.sleep(3)
    q.put("report ready")


def consume(q):
    print("consumer got", q.get(), flush=True)


if __name__ == "__main__":
    with CTX.Manager() as manager:
        q = manager.Queue()
        procs = [CTX.Process(target=consume, args=(q,)), CTX.Process(target=produce, args=(q,))]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
