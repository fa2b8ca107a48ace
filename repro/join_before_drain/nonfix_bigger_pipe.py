"""Not a fix: a bigger pipe only moves the threshold.

    python nonfix_bigger_pipe.py [N] [PIPE_BYTES] [START_METHOD] [CHILDREN]

seed_hang.py, with the queue's pipe enlarged to PIPE_BYTES (default 1 MiB, the most an
unprivileged process may ask for: /proc/sys/fs/pipe-max-size) with ``fcntl(F_SETPIPE_SZ)``.
Ten children putting N = 20000 (40 KB items) now fit and the script ends; N = 60000 (120 KB
items) hangs again, exactly like the original.  The joins still wait for data nobody reads.
"""

import fcntl
import multiprocessing
import sys

CHILDREN = int(sys.argv[4]) if len(sys.argv) > 4 else 10
# fcntl exposes these from Python 3.10 on; the values are Linux's
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)


def put_one(q, n):
    q.put(["hello", n * "ss"])


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1024 * 1024
    method = sys.argv[3] if len(sys.argv) > 3 else None
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue()
    # the queue's pipe: one pipe, both ends; _writer is its write end (private attribute)
    fcntl.fcntl(q._writer.fileno(), F_SETPIPE_SZ, size)
    print(f"the queue's pipe holds {fcntl.fcntl(q._writer.fileno(), F_GETPIPE_SZ):,} bytes",
          flush=True)
    children = [ctx.Process(target=put_one, args=(q, n)) for _ in range(CHILDREN)]
    for p in children:
        p.start()
    for p in children:
        p.join()  # still hangs once the items outgrow the bigger pipe
    items = [q.get() for _ in children]
    print(f"received {len(items)} items of {len(items[0][1])} characters each")


if __name__ == "__main__":
    main()
