"""The fix for both_send.py: one side receives first, then answers.

    python fix_alternate.py [START_METHOD]
"""

import multiprocessing
import sys


def peer(conn):
    data = conn.recv()  # receive first ...
    conn.send(b"B" * len(data))  # ... then answer
    conn.close()


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    a, b = ctx.Pipe()
    p = ctx.Process(target=peer, args=(b,))
    p.start()
    a.send(b"A" * 2_000_000)
    print("parent got", len(a.recv()))
    p.join()
