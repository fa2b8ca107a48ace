"""joblib's "multiprocessing" backend runs tasks on a multiprocessing.Pool.  One task dies
in native code (a segmentation fault, here os.kill(SIGSEGV)).  The Pool replaces the dead
worker but never re-sends its task, so Parallel() waits for that result forever, where the
default loky backend would raise TerminatedWorkerError.

Rewritten from joblib/joblib#385 ("Parallel does not handle well crashes": a segfaulting
task and the call never ends) and joblib/joblib#812 (with backend="multiprocessing",
"everything hangs" where loky reports the SIGSEGV)."""
import multiprocessing as mp
import os
import signal

from joblib import Parallel, delayed


def fit(i):
    if i == 3:
        os.kill(os.getpid(), signal.SIGSEGV)      # the native solver crashes
    return i * i


if __name__ == "__main__":
    if os.environ.get("MPDOCTOR_CASE_START"):
        mp.set_start_method(os.environ["MPDOCTOR_CASE_START"])
    scores = Parallel(n_jobs=2, backend="multiprocessing")(delayed(fit)(i) for i in range(6))
    print(scores)
