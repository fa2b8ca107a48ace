"""An upper-casing service runs in a child process and talks TCP over 127.0.0.1.  The
client (the parent) streams its whole input with sendall() before it reads any reply; the
server reads a block, sends the upper-cased block back with sendall(), and so on.  Once the
client's receive buffer and the server's send buffer are full, the server blocks in
sendall(), stops reading, and the client then blocks in its own sendall(): neither reads.

Rewritten from the tcp_deadlock.py example of "Foundations of Python Network Programming"
(chapter 3, TCP; reproduced in the Erle Robotics Python networking book, "Deadlock")."""
import multiprocessing as mp
import os
import socket

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def serve(listener):
    conn, _ = listener.accept()
    while True:
        block = conn.recv(1 << 16)
        if not block:
            break
        conn.sendall(block.upper())
    conn.close()


if __name__ == "__main__":
    listener = socket.create_server(("127.0.0.1", 0))
    server = CTX.Process(target=serve, args=(listener,))
    server.start()
    client = socket.create_connection(listener.getsockname())
    listener.close()
    chunk = b"capitalize this!" * 65536               # 1 MiB
    for _ in range(256):                               # 256 MiB before the first recv
        client.sendall(chunk)
    client.shutdown(socket.SHUT_WR)
    received = 0
    while True:
        data = client.recv(1 << 16)
        if not data:
            break
        received += len(data)
    server.join()
    print("received", received, "bytes")
