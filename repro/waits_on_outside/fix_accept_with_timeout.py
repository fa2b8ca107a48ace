"""The fix: accept() with a timeout; when no client comes, the parent says so, tells the
workers to stop, and exits with an error."""

import multiprocessing as mp
import socket
import sys


def worker(n, go, stop):
    go.wait()
    if not stop.is_set():
        print("worker", n, "running", flush=True)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    go, stop = ctx.Event(), ctx.Event()
    workers = [ctx.Process(target=worker, args=(n, go, stop)) for n in range(2)]
    for w in workers:
        w.start()
    control = socket.create_server(("127.0.0.1", 0))
    control.settimeout(1.0)             # a client that does not come is an error
    try:
        conn, _ = control.accept()
        started = conn.recv(16).strip() == b"start"
    except socket.timeout:
        started = False
    if not started:
        stop.set()
    go.set()
    for w in workers:
        w.join()
    if not started:
        sys.exit("no control client connected within 1 s")
