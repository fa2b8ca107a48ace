"""Programs that leave processes behind, ignore signals or read input, for the reliability
tests.  Each prints "ready" (flushed) once it is in the state under test.

    python lifecycle.py MODE
"""

import multiprocessing
import os
import signal
import sys
import time


def sleep_long():
    time.sleep(600)


def main(mode):
    if mode == "crash-leaving-child":
        p = multiprocessing.get_context("fork").Process(target=sleep_long)
        p.start()
        print("ready", flush=True)
        os._exit(3)
    if mode == "double-fork":
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                sleep_long()
            os._exit(0)
        os.wait()
        print("ready", flush=True)
        return
    if mode == "interruptible":
        print("ready", flush=True)
        try:
            sleep_long()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
    if mode == "ignores-sigint":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        p = multiprocessing.get_context("fork").Process(target=sleep_long)
        p.start()
        print("ready", flush=True)
        sleep_long()
    if mode == "handles-sigterm":
        signal.signal(signal.SIGTERM, lambda *a: (print("terminated cleanly", flush=True),
                                                  sys.exit(0)))
        print("ready", flush=True)
        sleep_long()
    if mode == "ignores-sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        sleep_long()
    if mode == "sleeps":
        p = multiprocessing.get_context("fork").Process(target=sleep_long)
        p.start()
        print("ready", p.pid, flush=True)
        sleep_long()
    if mode == "reads-input":
        print("ready", flush=True)
        line = input("name? ")
        print(f"hello {line}", flush=True)
    if mode == "flood":
        size = int(sys.argv[2])
        block = bytes(range(256)) * 4096  # 1 MiB
        out = sys.stdout.buffer
        for _ in range(size // len(block)):
            out.write(block)
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1])
