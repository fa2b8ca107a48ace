"""The parent hands work to a child over a TCP connection on 127.0.0.1: the child connects,
sends its request and waits for the answer.  The parent reads the request, then waits for
the child to finish before it sends the answer (it meant to "reply once the worker is
done").  The child waits in recv() for a reply that only the waiting parent can send.

Rewritten from the TCP deadlock discussion of "Foundations of Python Network Programming"
(chapter 3; Erle Robotics Python networking book, "Deadlock") and the runebook.dev guide to
deadlocks between two processes that both wait to read."""
import multiprocessing as mp
import os
import socket

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def worker(address):
    with socket.create_connection(address) as conn:
        conn.sendall(b"GET job\n")
        job = conn.recv(1024)          # waits for the parent's answer
        print("worker got", job, flush=True)


if __name__ == "__main__":
    listener = socket.create_server(("127.0.0.1", 0))
    proc = CTX.Process(target=worker, args=(listener.getsockname(),))
    proc.start()
    conn, _ = listener.accept()
    request = conn.recv(1024)
    print("parent got", request, flush=True)
    proc.join()                        # BUG: the reply is sent only after the worker exits
    conn.sendall(b"job 42\n")
