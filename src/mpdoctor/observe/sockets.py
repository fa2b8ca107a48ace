"""Unix socket peers, from the kernel's sock_diag netlink interface.

``/proc/PID/fd/N`` says ``socket:[INODE]`` but not what the socket is connected to.  For unix
sockets (``multiprocessing.Pipe()`` is a ``socketpair``) the kernel tells the peer's inode and
the bytes queued, through a ``SOCK_DIAG_BY_FAMILY`` dump (no privilege needed).  Anything else
(TCP, UDP, netlink) stays unresolved and counts as connected to the outside.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, Optional, Tuple

from mpdoctor.fdtargets import socket_inode  # noqa: F401 - re-exported

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
UDIAG_SHOW_PEER = 0x4
UDIAG_SHOW_RQLEN = 0x10
UNIX_DIAG_PEER = 2
UNIX_DIAG_RQLEN = 4
_NLMSGHDR = struct.Struct("=IHHII")
_REQ = struct.Struct("=BBHIII II")
_MSG = struct.Struct("=BBBxIII")


@dataclass(frozen=True)
class UnixSocket:
    inode: int
    type: int  # socket.SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
    state: int
    peer: Optional[int]
    rqueue: Optional[int]  # bytes (stream) or datagrams queued for reading
    wqueue: Optional[int]


def request() -> bytes:
    body = _REQ.pack(socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0, UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN,
                     0xFFFFFFFF, 0xFFFFFFFF)
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body


def _attrs(data: bytes) -> Iterator[Tuple[int, bytes]]:
    off = 0
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, off)
        if length < 4:
            return
        yield kind, data[off + 4:off + length]
        off += (length + 3) & ~3


def parse(chunks: Iterable[bytes]) -> Tuple[Dict[int, UnixSocket], bool]:
    """Parse netlink replies; the flag is True once the dump's end was seen."""
    out: Dict[int, UnixSocket] = {}
    for data in chunks:
        off = 0
        while off + _NLMSGHDR.size <= len(data):
            length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, off)
            if length < _NLMSGHDR.size:
                return out, True
            if kind == NLMSG_DONE or kind == NLMSG_ERROR:
                return out, True
            body = data[off + _NLMSGHDR.size:off + length]
            if len(body) >= _MSG.size:
                _family, stype, state, inode, _c1, _c2 = _MSG.unpack_from(body)
                peer = rq = wq = None
                for akind, value in _attrs(body[_MSG.size:]):
                    if akind == UNIX_DIAG_PEER and len(value) >= 4:
                        peer = struct.unpack_from("=I", value)[0] or None
                    elif akind == UNIX_DIAG_RQLEN and len(value) >= 8:
                        rq, wq = struct.unpack_from("=II", value)
                out[inode] = UnixSocket(inode, stype, state, peer, rq, wq)
            off += (length + 3) & ~3
    return out, False


def unix_sockets() -> Optional[Dict[int, UnixSocket]]:
    """Every unix socket of this network namespace by inode; None if the kernel won't say."""
    try:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    except (OSError, AttributeError):
        return None
    try:
        s.settimeout(2.0)
        s.sendto(request(), (0, 0))
        chunks = []
        out: Dict[int, UnixSocket] = {}
        while True:
            data = s.recv(1 << 16)
            chunks = [data]
            part, done = parse(chunks)
            out.update(part)
            if done or not data:
                return out
    except OSError:
        return None
    finally:
        s.close()
