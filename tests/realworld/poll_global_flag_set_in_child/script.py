"""Code moved from threads to processes: the worker sets a module-level `finished` flag
and the parent polls it.  A child process has its own copy of every global: the parent's
flag never changes, and the parent polls it forever (the worker exited long ago).

Rewritten from the notion.so "Multiprocessing" notes on sharing data between processes
("ordinary variable modifications are not visible across processes") and
CodeMouse92/DeadSimplePython#6 (each process works on its own copy and the program never
completes)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)

finished = False


def crunch():
    global finished
    total = sum(range(10_000))
    finished = True                    # sets the child's own copy
    print("crunched", total, flush=True)


if __name__ == "__main__":
    CTX.Process(target=crunch).start()
    while not finished:
        time.sleep(0.1)
    print("all crunched")
