"""A worker starts a background service through a launcher script and captures what the
launcher prints with subprocess.run(stdout=PIPE); it means to stop the service afterwards
by writing "stop" on a control pipe.  The launcher starts the service with Popen and returns
at once, but the service inherited the launcher's stdout, the write end of the pipe that
run() reads until end of file.  run() waits for the service to close its stdout, the
service waits for "stop", and the worker can only write "stop" after run() returns.  The
parent waits for the worker.

Rewritten from python/cpython#76116 (subprocess.run() does not return with grandchildren
and stdout=PIPE) and gptme/gptme#3756 (a background descendant keeps the output pipe open
and the reader blocks on EOF)."""
import multiprocessing as mp
import os
import subprocess
import sys

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)

SERVICE = "import os, sys; os.read(int(sys.argv[1]), 4)"      # runs until told to stop
LAUNCHER = f"""
import subprocess, sys
fd = int(sys.argv[1])
subprocess.Popen([sys.executable, "-c", {SERVICE!r}, str(fd)], pass_fds=(fd,))
print("service started", flush=True)
"""


def run_service():
    ctl_r, ctl_w = os.pipe()
    out = subprocess.run([sys.executable, "-c", LAUNCHER, str(ctl_r)],
                         stdout=subprocess.PIPE, pass_fds=(ctl_r,)).stdout
    print("launcher said", out, flush=True)
    os.write(ctl_w, b"stop")


if __name__ == "__main__":
    proc = CTX.Process(target=run_service)
    proc.start()
    proc.join()
    print("service stopped")
