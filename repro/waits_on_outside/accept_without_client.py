"""The parent starts its workers, which wait for a "go" event, then waits in accept() for a
control client to connect and say "start".  Nobody starts that client: the parent waits for
ever in accept() and the workers in Event.wait().  Any program could still connect, so this is
a wait on the outside, not a deadlock."""

import multiprocessing as mp
import socket
import sys


def worker(n, go):
    go.wait()
    print("worker", n, "running", flush=True)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    go = ctx.Event()
    workers = [ctx.Process(target=worker, args=(n, go)) for n in range(2)]
    for w in workers:
        w.start()
    control = socket.create_server(("127.0.0.1", 0))
    print("waiting for the control client on port", control.getsockname()[1], flush=True)
    conn, _ = control.accept()
    if conn.recv(16).strip() == b"start":
        go.set()
    for w in workers:
        w.join()
