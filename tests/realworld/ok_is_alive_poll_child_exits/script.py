"""Control (finishes): the parent polls is_alive() of its worker once every 100 ms, and the
worker ends after 3 s.  is_alive() reaps the exited child (waitpid with WNOHANG), so the
loop ends.

Rewritten from tomopy/tomopy#160 (the parent polls its child processes every second to
notice errors and segfaults)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def reconstruct():
    time.sleep(3)


if __name__ == "__main__":
    proc = CTX.Process(target=reconstruct)
    proc.start()
    while proc.is_alive():
        time.sleep(0.1)
    print("worker exited with", proc.exitcode)
