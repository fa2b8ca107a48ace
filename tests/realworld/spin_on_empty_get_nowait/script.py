"""A consumer process busy-waits on a Queue: `if q.empty(): continue`, then get_nowait(),
until it reads the None that the producer sends when it is done.  The producer fails on a
bad record and never sends it.  The consumer spins at 100% CPU forever; the parent joins it.

Rewritten from stratosphereips/StratosphereLinuxIPS#16 (processes busy-wait on
queue.empty() and eat the CPU) and python/cpython#87302 (get(block=False) can raise Empty
on a non-empty queue, which is why people loop around it)."""
import multiprocessing as mp
import os
import queue

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def produce(q):
    for line in ["a,1", "b,2", "c"]:
        name, value = line.split(",")   # ValueError on "c": no None is ever sent
        q.put((name, int(value)))
    q.put(None)


def consume(q):
    seen = 0
    while True:
        if q.empty():
            continue
        try:
            item = q.get_nowait()
        except queue.Empty:
            continue
        if item is None:
            break
        seen += 1
    print("consumed", seen, flush=True)


if __name__ == "__main__":
    q = CTX.Queue()
    producer = CTX.Process(target=produce, args=(q,))
    consumer = CTX.Process(target=consume, args=(q,))
    producer.start()
    consumer.start()
    producer.join()
    consumer.join()
