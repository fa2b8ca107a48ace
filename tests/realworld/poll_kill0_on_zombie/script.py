"""The parent waits for a converter process to finish by polling `os.kill(pid, 0)`, the
usual "is this pid alive?" test.  The converter exits at once, but nobody reaps it
(join()/is_alive() would): an exited child stays a zombie, still holding its pid, and
signal 0 to a zombie succeeds.  The loop polls a process that no longer runs, forever.

Rewritten from the notesbylex.com note "Zombie Processes" (a child that exits stays a
defunct entry until its parent waits for it) and tatref.github.io's "Linux zombie
processes" (a zombie keeps its pid until reaped)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def convert():
    print("converted", flush=True)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    proc = CTX.Process(target=convert)
    proc.start()
    while pid_alive(proc.pid):         # a zombie answers signal 0 too
        time.sleep(0.1)
    print("converter finished")
