"""A pipeline stage runs in a child process and raises on a malformed record.  The child
prints its traceback to stderr and exits with status 1; the parent only learns that from
exitcode, and fails with its own, less helpful, message.

Rewritten from the Stack Overflow question 19924104 "Python multiprocessing: handling child
errors in parent" and demo2s.com's "Python multiprocessing Process exit status"
("processes that raise an exception automatically get an exitcode of 1")."""
import multiprocessing as mp
import os
import sys

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def map_records(records):
    for record in records:
        record["customer_id"]          # KeyError on the second record


if __name__ == "__main__":
    stage = CTX.Process(target=map_records, args=([{"customer_id": 1}, {"id": 2}],),
                        name="mapper")
    stage.start()
    stage.join()
    if stage.exitcode != 0:
        sys.exit(f"pipeline failed: stage {stage.name} exited with {stage.exitcode}")
    print("pipeline done")
