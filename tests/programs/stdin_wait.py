"""Not a deadlock: the parent waits for a line on stdin (outside input) while its child waits
for the parent to pass that line on."""

import multiprocessing
import sys


def show(q):
    print("child got", q.get().strip(), flush=True)


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.Queue()
    p = ctx.Process(target=show, args=(q,))
    p.start()
    print("ready", flush=True)
    q.put(sys.stdin.readline())
    p.join()
