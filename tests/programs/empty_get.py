"""Deadlock: the main thread get()s from a queue nobody will ever put on (no child at all)."""

import multiprocessing

if __name__ == "__main__":
    q = multiprocessing.Queue()
    print("waiting", flush=True)
    q.get()
