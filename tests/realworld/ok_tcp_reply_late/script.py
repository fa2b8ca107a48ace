"""Control (finishes): a worker sends its request over TCP on 127.0.0.1 and waits in recv();
the parent takes 3 s to answer (it is busy), then replies, then joins.

The correct order for the exchange of the TCP deadlock example of "Foundations of Python
Network Programming" (chapter 3): one side reads while the other writes."""
import multiprocessing as mp
import os
import socket
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def worker(address):
    with socket.create_connection(address) as conn:
        conn.sendall(b"GET job\n")
        print("worker got", conn.recv(1024), flush=True)


if __name__ == "__main__":
    listener = socket.create_server(("127.0.0.1", 0))
    proc = CTX.Process(target=worker, args=(listener.getsockname(),))
    proc.start()
    conn, _ = listener.accept()
    conn.recv(1024)
    time.sleep(3)                      # preparing the job
    conn.sendall(b"job 42\n")
    proc.join()
