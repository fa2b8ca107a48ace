"""Workers share state through a Manager dict.  The manager's server process is killed
(SIGKILL, as the OOM killer would do; sent by the parent here) while the workers still use
it: each worker's next proxy call fails (EOFError, BrokenPipeError or ConnectionResetError)
and the parent fails too when it reads the state.

Rewritten from brickbots/PiFinder#476 (when the Manager process dies every worker gets
BrokenPipeError / ConnectionResetError / EOFError on its next shared_state call) and
python/cpython#86320 (bad proxies after the manager's server is restarted)."""
import multiprocessing as mp
import os
import signal

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def track(n, state, registered, go):
    state[n] = "started"
    registered.release()
    go.wait()
    state[n] = "done"                  # the manager is gone by now


if __name__ == "__main__":
    manager = CTX.Manager()
    state = manager.dict()
    registered, go = CTX.Semaphore(0), CTX.Event()
    workers = [CTX.Process(target=track, args=(n, state, registered, go)) for n in range(2)]
    for w in workers:
        w.start()
    for _ in workers:
        registered.acquire()
    os.kill(manager._process.pid, signal.SIGKILL)   # the OOM killer picks the manager
    manager._process.join()
    go.set()
    for w in workers:
        w.join()
    print("workers exited with", [w.exitcode for w in workers], flush=True)
    print("state:", dict(state))
