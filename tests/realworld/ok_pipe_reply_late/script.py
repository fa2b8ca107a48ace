"""Control (finishes): the parent blocks in recv() on a Pipe while the child computes for
3 s and then answers.  For 3 s every thread of the tree is blocked or asleep, but the
child's sleep ends by itself and the reply arrives: no deadlock.

The correct counterpart of the deadlocks described in the runebook.dev guide to avoiding
deadlocks with multiprocessing.Pipe() (the reader blocks until data arrives)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def solve(conn):
    time.sleep(3)                      # a slow computation
    conn.send({"answer": 42})
    conn.close()


if __name__ == "__main__":
    ours, theirs = CTX.Pipe()
    proc = CTX.Process(target=solve, args=(theirs,))
    proc.start()
    print("reply:", ours.recv())
    proc.join()
