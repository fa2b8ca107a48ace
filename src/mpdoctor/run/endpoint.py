"""The address of the hooks' event channel, made before the script starts.

A unix datagram socket, bound in a directory of its own (mode 0700: other users cannot even
connect to it), with ``SO_PASSCRED`` on, so that the kernel vouches for each sender's pid (see
events.py).  It is bound before the script starts, so that the first ``hello`` of the script
finds it; the reader thread (``events.Receiver``) takes it over once the script runs.  Only
built-in modules are imported here (``_socket``, not ``socket``): this comes before the script's
first line.
"""

from __future__ import annotations

import _socket
import os

from mpdoctor.hooks.config import ENV, encode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional

#: the longest socket path the kernel takes (sun_path is 108 bytes with its terminating NUL)
MAX_PATH = 107
#: the socket's receive buffer: bursts of events wait there while the reader is busy
RCVBUF = 4 << 20


def _temp_bases() -> List[str]:
    """Where temporary files go, in tempfile.gettempdir()'s order (TMPDIR, TEMP, TMP, then the
    usual places), without importing tempfile."""
    bases = [os.environ[name] for name in ("TMPDIR", "TEMP", "TMP") if os.environ.get(name)]
    return bases + ["/tmp", "/var/tmp", "/usr/tmp", "/dev/shm"]


def _private_dir() -> str:
    """A new directory only this user can enter, short enough for a socket path inside it."""
    errors: List[OSError] = []
    for base in _temp_bases():
        # 8 random characters after the prefix; the socket is "s" inside
        if len(os.fsencode(base)) + len("/mpdoctor-12345678/s") > MAX_PATH:
            continue
        for _ in range(10):
            path = os.path.join(os.path.abspath(base), "mpdoctor-" + os.urandom(4).hex())
            try:
                os.mkdir(path, 0o700)
                return path
            except FileExistsError:
                continue
            except OSError as err:
                errors.append(err)
                break
    raise OSError(f"no directory for the event socket: {errors or 'every path is too long'}")


def _remove_dir(path: str) -> None:
    """The socket's directory and what is in it (the socket, lock ledgers), errors ignored."""
    try:
        for name in os.listdir(path):
            try:
                os.unlink(os.path.join(path, name))
            except OSError:
                pass
        os.rmdir(path)
    except OSError:
        pass


class Endpoint:
    """The bound socket and its directory; :meth:`close` removes both."""

    def __init__(self, directory: str, sock: Optional[_socket.socket]) -> None:
        self.dir = directory
        self.addr = os.path.join(directory, "s")
        self._sock = sock

    @classmethod
    def bind(cls) -> "Endpoint":
        """A new socket, bound; ``OSError`` when there is no place for one."""
        directory = _private_dir()
        try:
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
            try:
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_PASSCRED, 1)
                try:
                    sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, RCVBUF)
                except OSError:
                    pass
                sock.bind(os.path.join(directory, "s"))
            except BaseException:
                sock.close()
                raise
        except BaseException:
            _remove_dir(directory)
            raise
        return cls(directory, sock)

    def env(self, debug: bool = False) -> Dict[str, str]:
        """What the script's environment gets, for its processes' hooks to find the socket."""
        return {ENV: encode(self.addr, debug)}

    def take(self) -> int:
        """The socket's fd, handed over to its reader (who closes it from then on)."""
        if self._sock is None:
            raise OSError("the event socket was taken already")
        fd = self._sock.detach()
        self._sock = None
        return fd

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        try:
            os.unlink(self.addr)
        except OSError:
            pass
        _remove_dir(self.dir)
