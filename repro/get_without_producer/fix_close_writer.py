"""The fix for recv_keeps_writer.py: close the parent's copy of the write end after start().

    python fix_close_writer.py [START_METHOD]
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
    writer.close()  # now only the child holds a write end: its exit means end of file
    while True:
        try:
            print("got", reader.recv(), flush=True)
        except EOFError:
            break
    p.join()
    print("done")
