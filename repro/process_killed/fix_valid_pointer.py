"""The fix: native code gets memory that exists (a ctypes buffer the child owns), and the child
enables faulthandler first, so that a crash that still happens prints its Python stack."""

import ctypes
import faulthandler
import multiprocessing as mp
import sys


def checksum(payload):
    faulthandler.enable()                  # a native crash now shows where it happened
    buffer = ctypes.create_string_buffer(payload, len(payload))
    data = ctypes.string_at(ctypes.addressof(buffer), len(payload))
    print("checksum", sum(data))


if __name__ == "__main__":
    p = mp.Process(target=checksum, args=(b"0123456789abcdef",))
    p.start()
    p.join()
    if p.exitcode != 0:
        sys.exit(f"checksum worker failed with exit code {p.exitcode}")
