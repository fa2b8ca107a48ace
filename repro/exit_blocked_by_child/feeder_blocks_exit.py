"""Hangs after the last line: the main process put 2 MB on a queue for a consumer that
crashed; at exit, the queue's feeder thread must write it all into a pipe nobody reads.

    python feeder_blocks_exit.py [START_METHOD]
"""

import multiprocessing
import sys


def consume(q):
    raise RuntimeError("the consumer fails during setup")  # never reads q


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.Queue()
    c = ctx.Process(target=consume, args=(q,))
    c.start()
    for i in range(200):
        q.put(b"\0" * 10_000)
    c.join()
    print("main: finished; consumer exit code", c.exitcode, flush=True)
