"""The live status line on a terminal while a script is watched.

The script writes to the same terminal, straight (mpdoctor copies nothing), so the line must
never land inside the script's output.  It lives outside it: the terminal's scroll region is
set to every row but the last (``DECSTBM``, as apt's progress bar does), the script's output
scrolls in that region, and the status line is drawn in the last row with the cursor saved
and restored around it (``ESC 7`` / ``ESC 8``), so the script's next byte lands exactly where
it would have.  The bytes the script writes are untouched.  At the end the region is reset and
the row cleared, before anything else of mpdoctor's is printed.

Only on a terminal (stderr is a tty, and it is the same terminal as stdout when stdout is one),
from a second after the start (a short run never sees it), and never with ``--status never``.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Optional

#: seconds after the start before the line appears, and between two updates
DELAY = 1.0
EVERY = 0.5


def _same_terminal(a: int, b: int) -> bool:
    try:
        return os.path.samestat(os.fstat(a), os.fstat(b))
    except OSError:
        return False


class StatusLine:
    def __init__(self, fd: int = 2, delay: float = DELAY) -> None:
        self.fd = fd
        self.delay = delay
        self.rows = 0
        self.started = time.monotonic()
        self._last = 0.0
        self.active = False
        self.enabled = self._usable()

    def _usable(self) -> bool:
        if not os.isatty(self.fd) or os.environ.get("TERM", "") in ("", "dumb"):
            return False
        try:
            if os.isatty(1) and not _same_terminal(1, self.fd):
                return False  # two terminals: keep out of both
            return os.get_terminal_size(self.fd).lines >= 4
        except OSError:
            return False

    def _write(self, text: str) -> None:
        # a background process writing to the terminal gets SIGTTOU when TOSTOP is set
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.write(self.fd, text.encode("utf-8", "replace"))
        except OSError:
            self.enabled = False
        finally:
            signal.signal(signal.SIGTTOU, old)

    def _open(self, rows: int) -> None:
        """Room for the line: a new line (scrolls if at the bottom), the region above it."""
        self.rows = rows
        self._write(f"\n\0337\033[1;{rows - 1}r\0338\033[1A")
        self.active = True

    def update(self, text: str) -> None:
        """Show ``text`` (plain; cut to the terminal's width) as the status line."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < self.delay or now - self._last < EVERY:
            return
        self._last = now
        try:
            size = os.get_terminal_size(self.fd)
        except OSError:
            return
        if not self.active:
            self._open(size.lines)
        elif size.lines != self.rows:  # resized: a new region
            self._write(f"\0337\033[{self.rows};1H\033[2K\033[r\0338")
            self.active = False
            self._open(size.lines)
        line = text[:max(10, size.columns - 1)]
        self._write(f"\0337\033[{self.rows};1H\033[2K\033[2m{line}\033[0m\0338")

    def close(self) -> None:
        """Clear the line and give the terminal its whole height back."""
        if self.active:
            self._write(f"\0337\033[{self.rows};1H\033[2K\033[r\0338")
            self.active = False


def describe(elapsed: float, processes: int, threads: int, main_wait: Optional[str]) -> str:
    """``mpdoctor: 12s, watching 10 processes (19 threads); main thread waits for child 7 to
    exit (wait4); no hang so far``"""
    what = f"main thread {main_wait}" if main_wait else "main thread running"
    return (f"mpdoctor: {elapsed:.0f}s, watching {processes} process"
            f"{'es' if processes != 1 else ''} ({threads} thread{'s' if threads != 1 else ''}); "
            f"{what}; no hang so far")
