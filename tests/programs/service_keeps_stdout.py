"""A worker reads what a launcher prints (subprocess.run, stdout=PIPE) until end of file; the
launcher starts a service in the background and returns, and the service inherited the
launcher's stdout.  The service waits for a line on its stdin pipe that the worker writes
only after run() returns: inherited-pipe-end through standard output.

    python service_keeps_stdout.py [start method]
"""
import multiprocessing as mp
import os
import subprocess
import sys

SERVICE = "import sys; sys.stdin.readline()"
LAUNCHER = (f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {SERVICE!r}]); "
            "print('started', flush=True)")


def work():
    r, w = os.pipe()
    out = subprocess.run([sys.executable, "-c", LAUNCHER], stdin=r, stdout=subprocess.PIPE)
    os.write(w, b"stop\n")
    print("launcher said", out.stdout)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    p = ctx.Process(target=work)
    p.start()
    p.join()
