"""A task runner starts each job in a daemon process so that jobs die with the runner.  One
job uses a library that starts its own helper Process.  multiprocessing refuses: "daemonic
processes are not allowed to have children" (AssertionError); the job exits with status 1
and the runner reports the failure.

Rewritten from dask/distributed#2142 (multiprocessing inside dask workers, which are daemon
processes: AssertionError: daemonic processes are not allowed to have children)."""
import multiprocessing as mp
import os
import sys

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def adder(a, b):
    print("sum", a + b, flush=True)


def job():
    helper = CTX.Process(target=adder, args=(1, 3))   # the library's own subprocess
    helper.start()
    helper.join()


if __name__ == "__main__":
    runner = CTX.Process(target=job, daemon=True)
    runner.start()
    runner.join()
    if runner.exitcode != 0:
        sys.exit(f"job failed with exit code {runner.exitcode}")
