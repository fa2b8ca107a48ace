"""An exporter child streams CSV rows to the parent over one end of a socket.socketpair().
The parent waits for the exporter to exit before it reads the socket.  The exporter's
sendall() blocks once the socket buffers (a few hundred KiB) are full, so it never exits.

Rewritten from mdavis-xyz/lambda_multiprocessing#17 (Pipe.send hangs on a large payload:
the pipe is a socketpair and a write blocks until the other side reads) and the
sopython.com canonical answer on multiprocessing programs that hang."""
import multiprocessing as mp
import os
import socket

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def export(sock):
    rows = b"2024-01-01,42,ok\n" * 250_000     # about 4 MB
    sock.sendall(rows)
    sock.close()


if __name__ == "__main__":
    ours, theirs = socket.socketpair()
    proc = CTX.Process(target=export, args=(theirs,))
    proc.start()
    theirs.close()
    proc.join()                        # BUG: wait for the exporter before reading
    data = b""
    while True:
        chunk = ours.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    print("received", data.count(b"\n"), "rows")
