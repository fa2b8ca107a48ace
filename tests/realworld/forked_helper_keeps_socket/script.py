"""A worker sends its results to the parent over a socketpair and closes its end; the parent
reads until end of file.  Before returning, the worker forks a helper for a slow upload; the
helper inherits the worker's socket and keeps it open while it waits for the worker's "go"
on a control pipe (the worker returns without writing it, and the helper never closed its
own copy of the pipe's write end).  The parent waits for EOF forever.

Rewritten from jgehrcke/gipc#22 (sockets kept open by a child process delay the close by
the lifetime of the child) and ArduPilot/SupportProxy#4 ("close sockets on fork")."""
import multiprocessing as mp
import os
import socket

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def worker(sock):
    sock.sendall(b"result 1\nresult 2\n")
    go_r, go_w = os.pipe()
    if os.fork() == 0:                 # the upload helper
        os.read(go_r, 1)               # waits for "go"
        os._exit(0)
    os.close(go_r)
    sock.close()
    os.close(go_w)                     # returns without sending "go"


if __name__ == "__main__":
    ours, theirs = socket.socketpair()
    proc = CTX.Process(target=worker, args=(theirs,))
    proc.start()
    theirs.close()
    data = b""
    while True:
        chunk = ours.recv(4096)
        if not chunk:
            break
        data += chunk
    proc.join()
    print("results:", data.decode().split())
