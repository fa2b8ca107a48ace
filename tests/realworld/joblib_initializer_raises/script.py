"""joblib's Parallel(initializer=...) runs the initializer in each loky worker.  It raises
(a division by zero standing for a broken set-up), every worker dies at start and Parallel
raises TerminatedWorkerError, with the initializer's traceback printed before it.

loky has its own start methods (its default, "loky", is spawn-like); MPDOCTOR_CASE_START is
passed to loky's set_start_method.  Parallel(initializer=) exists since joblib 1.5.

Rewritten from joblib/joblib#1525 (the initializer option for the loky and multiprocessing
backends; "if you look before the stack-trace you get the stack-trace with the initializer
error")."""
import math
import os

from joblib import Parallel, delayed
from joblib.externals.loky.backend.context import set_start_method


def initializer():
    return 1 / 0


if __name__ == "__main__":
    if os.environ.get("MPDOCTOR_CASE_START"):
        set_start_method(os.environ["MPDOCTOR_CASE_START"])
    print(Parallel(n_jobs=2, initializer=initializer)(delayed(math.sqrt)(i * i)
                                                      for i in range(10)))
