"""queue.Queue is for threads: a child process puts into its own copy, and the parent waits.

    python thread_queue.py [START_METHOD]

``queue.Queue`` is safe between the threads of one process, but it lives in that process's
memory.  Under fork, the child gets a copy of it: the child's ``put()`` fills the copy, the
parent's queue stays empty, and the parent's ``get()`` waits forever.  Under spawn and
forkserver the queue would have to be pickled, which fails at once: ``TypeError: cannot pickle
'_thread.lock' object``.  Use ``multiprocessing.Queue`` (queue_roundtrip.py).
"""

import multiprocessing
import queue
import sys


def produce(q):
    q.put("hello")  # goes into the child's copy of the queue


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    ctx = multiprocessing.get_context(method)
    q = queue.Queue()
    p = ctx.Process(target=produce, args=(q,))
    p.start()
    p.join()
    print(f"child exited with status {p.exitcode}; now reading the queue...", flush=True)
    print(q.get())  # fork: waits forever, nothing will ever arrive in this copy


if __name__ == "__main__":
    main()
