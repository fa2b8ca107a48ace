"""Control (finishes): the parent waits in acquire() for a multiprocessing.Lock that a live
child holds for 3 s while it writes its part of the report; then the child releases it.

The healthy counterpart of the superfastpython.com tutorial on mutex locks broken by
terminating a child: here the holder is alive and does release it."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def write_part(lock, holding):
    with lock:
        holding.set()
        time.sleep(3)


if __name__ == "__main__":
    lock, holding = CTX.Lock(), CTX.Event()
    proc = CTX.Process(target=write_part, args=(lock, holding))
    proc.start()
    holding.wait()
    with lock:
        print("writing the summary")
    proc.join()
