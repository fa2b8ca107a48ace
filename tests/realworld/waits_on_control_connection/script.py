"""A batch job starts its workers, which wait for a "go" event, then waits for the operator's
control tool to connect on 127.0.0.1 and send "start".  The control tool is a separate
program nobody launched: the parent waits in accept() and the workers in Event.wait().
Another program could connect at any time, so this waits on the outside, it is not a
deadlock.

Rewritten from MarketSquare/Rammbock#45 ("Accept connection" hangs when no connection is
coming; a timeout was added) and ionelmc/python-manhole#53 (a socket timeout on accept()
for the client connection)."""
import multiprocessing as mp
import os
import socket

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def worker(n, go):
    go.wait()
    print("worker", n, "running", flush=True)


if __name__ == "__main__":
    go = CTX.Event()
    workers = [CTX.Process(target=worker, args=(n, go)) for n in range(2)]
    for w in workers:
        w.start()
    control = socket.create_server(("127.0.0.1", 0))
    print("waiting for the control tool on port", control.getsockname()[1], flush=True)
    conn, _ = control.accept()
    if conn.recv(16).strip() == b"start":
        go.set()
    for w in workers:
        w.join()
