"""multiprocessing.Queue between processes: the child puts, the parent gets, then joins.

    python queue_roundtrip.py [START_METHOD]

A ``multiprocessing.Queue`` is safe to use from many threads and many processes.  The item is
pickled in the child and unpickled in the parent: what arrives is a copy.  Reading before
joining is the safe order (join_before_drain shows the other one).
"""

import multiprocessing
import sys


def produce(q):
    q.put([42, None, "hello"])


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue()
    p = ctx.Process(target=produce, args=(q,))
    p.start()
    print(q.get())  # [42, None, 'hello']
    p.join()


if __name__ == "__main__":
    main()
