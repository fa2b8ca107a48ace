"""A renderer child sends its tile (4 MB) to the parent over a Pipe.  Connection.send()
writes straight into the OS pipe, which holds 64 KiB, so the child blocks in send() until
someone reads.  The parent joins the child before it calls recv(): each waits for the other.

Rewritten from the sopython.com canonical answer "Programs using multiprocessing hang
(deadlock) and never complete" and the runebook.dev guide to avoiding deadlocks with
multiprocessing.Pipe()."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def render(conn):
    tile = b"\x7f" * (4 * 1024 * 1024)
    conn.send(tile)
    conn.close()


if __name__ == "__main__":
    reader, writer = CTX.Pipe(duplex=False)
    proc = CTX.Process(target=render, args=(writer,))
    proc.start()
    proc.join()                        # BUG: join before recv
    tile = reader.recv()
    print("got a tile of", len(tile), "bytes")
