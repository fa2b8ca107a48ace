"""A pipeline stage runs in a child process; one record lacks a field, the child raises
KeyError.  multiprocessing prints the child's traceback and the child exits with status 1;
the parent only sees the exit code and fails with a message of its own."""

import multiprocessing as mp
import sys


def stage(records):
    total = 0
    for record in records:
        total += record["amount"]          # KeyError on the second record
    print("stage total", total)


if __name__ == "__main__":
    records = [{"amount": 3}, {"id": 7}, {"amount": 4}]
    p = mp.Process(target=stage, args=(records,), name="summing-stage")
    p.start()
    p.join()
    if p.exitcode != 0:
        sys.exit(f"pipeline failed: {p.name} exited with {p.exitcode}")
    print("pipeline done")
