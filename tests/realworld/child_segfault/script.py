"""A child process calls into native code that dereferences a NULL pointer (ctypes here) and
is killed by SIGSEGV.  Nothing is printed by the child; the parent only sees exitcode -11
and stops with an error of its own.

Rewritten from tomopy/tomopy#160 ("Catch exceptions and segfaults in child processes") and
python/cpython PR #1989 (bpo-30589: a killed child's exitcode is -signum)."""
import ctypes
import multiprocessing as mp
import os
import sys

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def reconstruct(slice_no):
    ctypes.string_at(0)                # the extension reads through a NULL pointer


if __name__ == "__main__":
    proc = CTX.Process(target=reconstruct, args=(0,))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        sys.exit(f"reconstruction failed (exit code {proc.exitcode})")
