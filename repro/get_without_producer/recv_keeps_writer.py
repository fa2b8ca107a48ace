"""Hangs: the parent reads a one-way Pipe until EOFError, but never closes its own copy of the
write end, so end of file never comes after the child has sent everything and exited.

    python recv_keeps_writer.py [START_METHOD]
"""

import multiprocessing
import sys


def produce(conn):
    for i in range(3):
        conn.send(f"line {i}")
    conn.close()


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    reader, writer = ctx.Pipe(duplex=False)
    p = ctx.Process(target=produce, args=(writer,))
    p.start()
    while True:
        try:
            print("got", reader.recv(), flush=True)
        except EOFError:
            break
    p.join()
