"""Headless Chromium driven through the DevTools protocol, with the standard library only: a
page is loaded from a file, and the test reads what the browser made of it (the title, computed
styles, the geometry of SVG elements), every console message and error, and every request.

The protocol runs over a websocket; the few lines of RFC 6455 it needs (a client handshake,
masked text frames out, unmasked frames in) are below.  Chromium is found on PATH
(``chromium``, Debian's package, or ``chromium-browser``/``google-chrome``); :func:`find`
returns None where there is none, and the tests skip with that reason.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--hide-scrollbars"]


def find() -> Optional[str]:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class WebSocket:
    """Just enough of a websocket client for the DevTools protocol on localhost."""

    def __init__(self, url: str, timeout: float) -> None:
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the browser closed the websocket handshake")
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:200]!r}")

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the browser closed the websocket")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, text: str) -> None:
        data = text.encode()
        head = bytes([0x81])  # FIN, text
        if len(data) < 126:
            head += bytes([0x80 | len(data)])
        elif len(data) < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", len(data))
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", len(data))
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            length = b1 & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(length)
            opcode = b0 & 0x0F
            if opcode == 8:
                raise ConnectionError("the browser closed the websocket")
            if opcode == 9:  # ping: answer, keep reading
                self.sock.sendall(bytes([0x8A, 0x80]) + os.urandom(4))
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()

    def close(self) -> None:
        self.sock.close()


class Browser:
    """A headless Chromium with one page, attached to through the browser's websocket."""

    def __init__(self, exe: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="mpdoctor-chromium-")
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
             "--window-size=1280,2000", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        self.ws: Optional[WebSocket] = None
        try:
            url = self._listening()
            self.ws = WebSocket(url, timeout)
            self.next_id = 0
            self.events: List[Dict[str, Any]] = []
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target,
                                     flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=True)
        except BaseException:
            self.close()
            raise

    def _listening(self) -> str:
        """The handshake: Chromium says on stderr where its DevTools websocket listens."""
        deadline = time.monotonic() + self.timeout
        seen = b""
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
            for line in seen.decode("utf-8", "replace").splitlines():
                if "DevTools listening on ws://" in line:
                    return line.split("DevTools listening on ", 1)[1].strip()
        raise RuntimeError(f"chromium did not start its DevTools endpoint: {seen[-2000:]!r}")

    def call(self, method: str, session: bool = False, **params: Any) -> Dict[str, Any]:
        assert self.ws is not None
        self.next_id += 1
        message: Dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> Dict[str, Any]:
        assert self.ws is not None
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            event = json.loads(self.ws.recv())
            self.events.append(event)
            if event.get("method") == method:
                return event
        raise TimeoutError(method)

    def open(self, path: str) -> None:
        self.events.clear()
        self.call("Page.navigate", session=True, url=f"file://{os.path.abspath(path)}")
        self.wait_for("Page.loadEventFired")
        # one more round trip, so that messages logged while loading have arrived
        self.evaluate("1")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self) -> List[str]:
        """Console errors and warnings, uncaught exceptions, and failed or blocked loads."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning",
                                                                       "assert"):
                out.append(f"console.{p.get('type')}: {p.get('args')}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error",
                                                                               "warning"):
                out.append(f"log: {p['entry'].get('text')}")
            elif m == "Network.loadingFailed":
                out.append(f"load failed: {p.get('errorText')} {p.get('blockedReason', '')}")
        return out

    def requests(self) -> List[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: str) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self) -> None:
        try:
            if self.ws is not None:
                try:
                    self.call("Browser.close")
                except (OSError, ConnectionError, RuntimeError, ValueError):
                    pass
                self.ws.close()
        finally:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            # the browser's helper processes share its session: stop them all by group
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            shutil.rmtree(self.profile, ignore_errors=True)
