"""os.fork(): one call, two processes.

    python fork.py

``fork()`` returns twice: in the parent it returns the child's pid, in the child it returns 0.
Both then run the same code from that line on, each in its own copy of memory.  Which of the
two prints first is up to the scheduler.
"""

import os
import sys


def main():
    # flush before forking: otherwise text still in the buffer is copied into the child and
    # printed twice when stdout is a pipe or a file
    print(f"process {os.getpid()} starts", flush=True)
    pid = os.fork()
    if pid == 0:
        print(f"I am the child {os.getpid()}; my parent is {os.getppid()}", flush=True)
        # leave at once: no atexit handlers, no second flush of buffers inherited from the parent
        os._exit(0)
    print(f"I am the parent {os.getpid()}; I just created the child {pid}", flush=True)
    _, status = os.waitpid(pid, 0)  # reap the child, or it stays a zombie until we exit
    print(f"child {pid} exited with status {os.waitstatus_to_exitcode(status)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
