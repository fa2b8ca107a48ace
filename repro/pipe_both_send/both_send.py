"""Hangs: both ends of a duplex Pipe send 2 MB before receiving.

    python both_send.py [START_METHOD]
"""

import multiprocessing
import sys


def peer(conn):
    conn.send(b"B" * 2_000_000)  # blocks: nobody is receiving yet
    print("child got", len(conn.recv()), flush=True)


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    a, b = ctx.Pipe()
    p = ctx.Process(target=peer, args=(b,))
    p.start()
    a.send(b"A" * 2_000_000)  # blocks too
    print("parent got", len(a.recv()))
    p.join()
