"""The watchdog's end of the hooks' event channel.

A unix datagram socket in the abstract namespace (nothing on disk to clean up), read by a
daemon thread so that bursts never fill the kernel's queue while the main loop sleeps.  The
configuration for the hooks travels in one environment variable, ``MPDOCTOR_HOOKS`` (plain
text, see ``mpdoctor.hooks.boot.encode``), inherited by every process the script starts.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from mpdoctor.model import Event

ENV = "MPDOCTOR_HOOKS"
#: the most events kept; beyond it, events are counted but not stored
MAX_EVENTS = 100_000


class Receiver:
    def __init__(self, debug: bool = False) -> None:
        self.addr = f"\0mpdoctor-{os.getpid()}-{os.urandom(6).hex()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        self.sock.bind(self.addr)
        self.debug = debug
        # (kind, pid, time, data), turned into Events when asked for (keeps start-up light)
        self.events: List[Tuple[str, int, float, Dict[str, Any]]] = []
        self.lost = 0  # reported by the hooks as dropped, or beyond MAX_EVENTS
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="mpdoctor-events", daemon=True)
        self._thread.start()

    @property
    def native_id(self) -> Optional[int]:
        """The kernel thread id of the reader thread."""
        return self._thread.native_id

    def env(self) -> Dict[str, str]:
        from mpdoctor.hooks.boot import encode
        return {ENV: encode(self.addr, self.debug)}

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                return
            self._handle(data)

    def _handle(self, data: bytes) -> None:
        if not data:
            return
        try:
            raw = json.loads(data.decode("utf-8", "replace"))
            kind = str(raw.pop("ev"))
            pid = int(raw.pop("pid"))
            at = float(raw.pop("t"))
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        with self._lock:
            self.lost += int(raw.pop("dropped_before", 0) or 0)
            if len(self.events) < MAX_EVENTS:
                self.events.append((kind, pid, at, raw))
            else:
                self.lost += 1

    def snapshot(self) -> List["Event"]:
        with self._lock:
            if not self.events:
                return []  # (and the model is not loaded for nothing)
            from mpdoctor.model import Event
            return [Event(*e) for e in self.events]

    def close(self) -> None:
        """Stop the reader thread and read what is still queued (``snapshot()`` then has every
        event).  (A process's events are queued the moment it sends them, so after it has
        exited nothing of it can still be on the way.)"""
        self._stop = True
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(b"", self.addr)  # wakes the reader
        except OSError:
            pass
        self._thread.join(timeout=1.0)
        self.sock.setblocking(False)
        while True:
            try:
                self._handle(self.sock.recv(1 << 16))
            except OSError:
                break
        self.sock.close()
