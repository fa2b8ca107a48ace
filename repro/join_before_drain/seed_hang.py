"""The hang that started it all: children put on a Queue, the parent joins them before get().

    python seed_hang.py [N] [START_METHOD] [CHILDREN]

Ten children (CHILDREN) each put ``['hello', N * 'ss']`` on one ``multiprocessing.Queue``;
the parent joins every child and only then reads the items.  With N = 2000 it works; with
N = 20000 (the default) it hangs forever: README.md says why, fix_*.py are the fixes.
START_METHOD is fork, spawn or forkserver (default: the platform's default).
"""

import multiprocessing
import sys

CHILDREN = int(sys.argv[3]) if len(sys.argv) > 3 else 10


def put_one(q, n):
    q.put(["hello", n * "ss"])


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue()
    children = [ctx.Process(target=put_one, args=(q, n)) for _ in range(CHILDREN)]
    for p in children:
        p.start()
    for p in children:
        p.join()  # hangs here when the items do not fit in the queue's pipe
    items = [q.get() for _ in children]
    print(f"received {len(items)} items of {len(items[0][1])} characters each")


if __name__ == "__main__":
    main()
