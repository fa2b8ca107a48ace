"""Fork while another thread keeps using the code mpdoctor's hooks wrap (creating Pool
results): each child must start as it would without the hooks.

    python fork_while_hooks_busy.py [CHILDREN]

Prints how many children ended within 10 s; exits 1 (after killing them) if any did not.
"""

import multiprocessing.pool
import os
import signal
import sys
import threading
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # fork() in a multi-threaded process


def main():
    children = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    pool = multiprocessing.pool.ThreadPool(1)
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            pool.apply_async(int)

    t = threading.Thread(target=churn)
    t.start()
    pids = []
    for _ in range(children):
        pid = os.fork()
        if pid == 0:
            # the child makes a Pool result of its own (the hooks see it), then leaves
            multiprocessing.pool.ApplyResult(pool, None, None)
            os._exit(0)
        pids.append(pid)
    stop.set()
    t.join()
    deadline = time.monotonic() + 10
    left = set(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                left.discard(pid)
        time.sleep(0.01)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    pool.terminate()
    print(f"{children - len(left)} of {children} children ended", flush=True)
    sys.exit(1 if left else 0)


if __name__ == "__main__":
    main()
