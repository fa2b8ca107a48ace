"""A ProcessPoolExecutor task allocates more than the container allows and the worker is
killed (SIGKILL, as the OOM killer does; sent by the task itself here).  The executor
notices the dead worker, marks the pool broken, and every pending future fails with
BrokenProcessPool, which the caller does not handle.

Rewritten from agronholm/apscheduler#362 (a worker terminated by Kubernetes or the OOM
killer leaves the ProcessPoolExecutor broken) and epam/ai-dial-rag#11 (BrokenProcessPool
after an OOM in a worker)."""
import multiprocessing as mp
import os
import signal
from concurrent.futures import ProcessPoolExecutor

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def index_document(n):
    if n == 2:
        os.kill(os.getpid(), signal.SIGKILL)      # the OOM killer
    return f"doc-{n}"


if __name__ == "__main__":
    with ProcessPoolExecutor(max_workers=2, mp_context=CTX) as pool:
        print(list(pool.map(index_document, range(4))))
