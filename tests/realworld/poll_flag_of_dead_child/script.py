"""The parent starts a model server process and polls a shared flag until the server says it
is ready.  The server fails while it loads its model, before it sets the flag; nothing else
ever writes the flag, and the parent polls it forever without looking at the child.

Rewritten from mars-project/mars#2468 ("Fix hang when start sub pool fails": the parent
waited for a started signal from a sub-process that had died; the fix checks the status of
the sub-process)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def serve(ready):
    weights = {}
    weights["encoder"]["layer0"]       # KeyError: the model file is incomplete
    ready.value = 1


if __name__ == "__main__":
    ready = CTX.Value("b", 0)
    server = CTX.Process(target=serve, args=(ready,))
    server.start()
    while not ready.value:             # the server died: nobody will set it
        time.sleep(0.05)
    print("server ready")
