"""Control (finishes): joblib (loky backend) runs four tasks of 1.5 s each on two workers;
Parallel waits about 3 s and returns.  MPDOCTOR_CASE_START is passed to loky's
set_start_method (loky's default, "loky", is spawn-like).

Rewritten from joblib/joblib#844 ("How to solve randomly hang?": a long task in a loky
worker looked like a hang; py-spy showed it was working)."""
import os
import time

from joblib import Parallel, delayed
from joblib.externals.loky.backend.context import set_start_method


def forecast(i):
    time.sleep(1.5)
    return i * 10


if __name__ == "__main__":
    if os.environ.get("MPDOCTOR_CASE_START"):
        set_start_method(os.environ["MPDOCTOR_CASE_START"])
    print(Parallel(n_jobs=2)(delayed(forecast)(i) for i in range(4)))
