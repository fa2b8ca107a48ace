"""joblib (loky backend) runs a task that is killed by the OS for its memory use (SIGKILL,
sent by the task itself here).  loky detects the dead worker and Parallel raises
TerminatedWorkerError ("A worker process managed by the executor was unexpectedly
terminated ... The exit codes of the workers are {SIGKILL(-9)}").

loky has its own start methods (its default, "loky", is spawn-like); MPDOCTOR_CASE_START is
passed to loky's set_start_method.

Rewritten from joblib/joblib#812 ("loky TerminatedWorkerError", exit codes {SIGKILL(-9)})."""
import os
import signal

from joblib import Parallel, delayed
from joblib.externals.loky.backend.context import set_start_method


def fit(i):
    if i == 3:
        os.kill(os.getpid(), signal.SIGKILL)      # out of memory
    return i * i


if __name__ == "__main__":
    if os.environ.get("MPDOCTOR_CASE_START"):
        set_start_method(os.environ["MPDOCTOR_CASE_START"])
    print(Parallel(n_jobs=2)(delayed(fit)(i) for i in range(6)))
