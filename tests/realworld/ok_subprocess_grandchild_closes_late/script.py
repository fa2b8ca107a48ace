"""Control (finishes): a worker captures a launcher's output with subprocess.run(stdout=PIPE);
the launcher starts a background job that inherits the pipe and exits after 3 s.  run()
waits for the grandchild to close the pipe, which it does when it ends: slow, but it ends.

The benign form of python/cpython#76116 (subprocess.run() with grandchildren and
stdout=PIPE returns only when the grandchildren close the pipe)."""
import multiprocessing as mp
import os
import subprocess
import sys

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)

LAUNCHER = """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
print("job started", flush=True)
"""


def launch():
    out = subprocess.run([sys.executable, "-c", LAUNCHER], stdout=subprocess.PIPE).stdout
    print("launcher said", out, flush=True)


if __name__ == "__main__":
    proc = CTX.Process(target=launch)
    proc.start()
    proc.join()
    print("done, exit code", proc.exitcode)
