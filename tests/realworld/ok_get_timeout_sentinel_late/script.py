"""Control (finishes): a consumer polls its queue with get(timeout=0.2) and retries on
queue.Empty; the producer is slow (3 s) but alive, and finally sends its items and the None
sentinel.  The loop looks like polling without progress for 3 s, then it progresses.

Rewritten from PrefectHQ/prefect#5213 (results read with queue.get(block=True,
timeout=...) instead of joining the process first)."""
import multiprocessing as mp
import os
import queue
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def produce(q):
    time.sleep(3)
    for item in ("a", "b", None):
        q.put(item)


if __name__ == "__main__":
    q = CTX.Queue()
    producer = CTX.Process(target=produce, args=(q,))
    producer.start()
    items = []
    while True:
        try:
            item = q.get(timeout=0.2)
        except queue.Empty:
            continue
        if item is None:
            break
        items.append(item)
    producer.join()
    print("got", items)
