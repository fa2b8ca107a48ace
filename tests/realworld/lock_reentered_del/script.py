"""Upload handles log their release from __del__ through a log lock shared by all workers.
The worker closes finished uploads while it holds that same lock; dropping the last
reference to a handle runs its __del__ right there, in the same thread, and __del__ waits
for the lock its own caller holds.  The worker never finishes; the parent waits in join().

Rewritten from getsentry/sentry-python#803 (a destructor that logs, run by the garbage
collector while the queue lock is held, deadlocks) and wandb/wandb#11402 (console capture
deadlocked by a __del__ that prints)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


class Upload:
    def __init__(self, log_lock, name):
        self.log_lock = log_lock
        self.name = name

    def __del__(self):
        with self.log_lock:
            print("released upload handle", self.name, flush=True)


def sync_worker(log_lock):
    open_uploads = {"part-0": Upload(log_lock, "part-0")}
    with log_lock:
        print("closing finished uploads", flush=True)
        open_uploads.pop("part-0")     # last reference: __del__ runs here, lock held


if __name__ == "__main__":
    log_lock = CTX.Lock()
    proc = CTX.Process(target=sync_worker, args=(log_lock,))
    proc.start()
    proc.join()
    print("sync finished")
