"""Each process lists its open fds (number and kind): the script, a child started with the given
method, and the script again after the child has ended.  The hooks must add none."""

import multiprocessing as mp
import os
import re
import sys


def fds():
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue  # the listing's own fd, closed by now
        out[int(name)] = re.sub(r":\[\d+\]$", "", target)
    return dict(sorted(out.items()))


def child(conn):
    conn.send(fds())
    conn.close()


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    print("script", fds(), flush=True)
    r, w = ctx.Pipe(duplex=False)
    p = ctx.Process(target=child, args=(w,))
    p.start()
    w.close()
    print("child", r.recv(), flush=True)
    p.join()
    r.close()
    print("script", fds(), flush=True)
