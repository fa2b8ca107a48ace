"""The worker function is defined inside `if __name__ == "__main__":`.  With fork the child
runs a copy of the parent and finds it.  With spawn or forkserver the child imports the
main module as __mp_main__, where that block does not run, and fails to unpickle its
target: AttributeError: Can't get attribute 'resize' on <module '__mp_main__' ...>.  The
parent sees exit code 1.

Rewritten from python/cpython#132898 (AttributeError: Can't get attribute 'is_prime' on
<module '__mp_main__'> in the ProcessPoolExecutor example) and thonny/thonny#2544 (Can't get
attribute 'executeProc' on <module '__main__'>)."""
import multiprocessing as mp
import os
import sys

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)

if __name__ == "__main__":
    def resize(path, width):
        print("resized", path, "to", width, flush=True)

    proc = CTX.Process(target=resize, args=("cat.png", 640))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        sys.exit(f"resize failed with exit code {proc.exitcode}")
