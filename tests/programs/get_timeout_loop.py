"""Not a deadlock: the parent polls with get(timeout=...) until a slow child answers."""

import multiprocessing
import queue
import sys
import time


def slow(q, seconds):
    time.sleep(seconds)
    q.put("answer")


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    ctx = multiprocessing.get_context(sys.argv[2] if len(sys.argv) > 2 else None)
    q = ctx.Queue()
    p = ctx.Process(target=slow, args=(q, seconds))
    p.start()
    polls = 0
    while True:
        try:
            item = q.get(timeout=0.2)
            break
        except queue.Empty:
            polls += 1
    print(item, polls > 0, flush=True)
    p.join()
