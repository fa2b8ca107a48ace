"""Control (finishes): the parent polls a shared flag every 50 ms while the server loads for
3 s and then sets it.  The polling loop makes no progress for 3 s, but the process that
will set the flag is alive and sleeping: it ends.

The fixed form of mars-project/mars#2468 (the parent waits for the sub-process's "started"
signal, and the sub-process does send it)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def serve(ready):
    time.sleep(3)                      # loading the model
    ready.value = 1


if __name__ == "__main__":
    ready = CTX.Value("b", 0)
    server = CTX.Process(target=serve, args=(ready,))
    server.start()
    while not ready.value:
        time.sleep(0.05)
    print("server ready")
    server.join()
