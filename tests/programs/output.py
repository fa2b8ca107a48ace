"""Writes known bytes to stdout and stderr (binary, partial lines) and exits with a given status."""

import os
import signal
import sys

if __name__ == "__main__":
    status = sys.argv[1] if len(sys.argv) > 1 else "0"
    out = sys.stdout.buffer
    out.write(bytes(range(256)) * 4)
    out.write(b"no newline at the end")
    out.flush()
    sys.stderr.buffer.write(b"err\x00\xff partial")
    sys.stderr.flush()
    if status.startswith("SIG"):
        os.kill(os.getpid(), getattr(signal, status))
    sys.exit(int(status))
