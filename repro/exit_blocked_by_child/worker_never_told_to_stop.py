"""Never exits: a non-daemon worker polls its inbox (get with a timeout) for a stop sentinel
that the main program never sends; at exit, multiprocessing joins it forever.

    python worker_never_told_to_stop.py [START_METHOD]
"""

import multiprocessing
import queue
import sys


def work(inbox, outbox):
    while True:
        try:
            job = inbox.get(timeout=0.2)
        except queue.Empty:
            continue  # keeps polling
        if job is None:
            return
        outbox.put(job * 2)


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    inbox, outbox = ctx.Queue(), ctx.Queue()
    w = ctx.Process(target=work, args=(inbox, outbox))
    w.start()
    for j in range(5):
        inbox.put(j)
    print("results:", sorted(outbox.get() for _ in range(5)), flush=True)
    print("main: finished", flush=True)
