"""A small job runner starts a child process and calls the user's `on_done` callback from
wait(), while it still holds its own (non-reentrant) lock.  The callback asks the job for
its exit status with wait(), which takes the same lock: the main thread waits for itself.

Rewritten from amoffat/sh#564 (the _done callback deadlocks when it touches the command,
because _wait_lock is already held when the callback runs) and google/ml-compiler-opt#108
(a done-callback that re-enters a call which takes the lock held around set_result)."""
import multiprocessing as mp
import os
import threading

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def convert(path):
    print("converted", path, flush=True)


class Job:
    def __init__(self, target, args, on_done):
        self._proc = CTX.Process(target=target, args=args)
        self._lock = threading.Lock()
        self._on_done = on_done
        self.exit_code = None

    def start(self):
        self._proc.start()
        return self

    def wait(self):
        with self._lock:
            if self.exit_code is None:
                self._proc.join()
                self.exit_code = self._proc.exitcode
                self._on_done(self)    # the callback runs with the lock held
        return self.exit_code


def report(job):
    print("job finished with", job.wait(), flush=True)   # re-enters wait()


if __name__ == "__main__":
    Job(convert, ("in.wav",), on_done=report).start().wait()
    print("all done")
