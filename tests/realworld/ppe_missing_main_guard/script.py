"""A script submits work to a ProcessPoolExecutor at module level, without
`if __name__ == "__main__":`.  Under spawn or forkserver every worker imports the main
module and runs that code again, where multiprocessing refuses to start processes
("An attempt has been made to start a new process before the current process has finished
its bootstrapping phase"); the worker dies and the parent gets BrokenProcessPool.  With
fork the script works.

Rewritten from alex-sherman/unsync#50 (BrokenProcessPool with the bootstrapping-phase
RuntimeError in the worker's traceback) and CAHLR/pyBKT-examples#2 ("Unguarded
multiprocessing throws runtime error")."""
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def fit(x):
    return x * 2


with ProcessPoolExecutor(max_workers=2, mp_context=CTX) as pool:
    print(list(pool.map(fit, range(4))))
