"""Socket peers: unix sockets from the kernel's sock_diag netlink interface, TCP and UDP from
``/proc/net``.

``/proc/PID/fd/N`` says ``socket:[INODE]`` but not what the socket is connected to.  For unix
sockets (``multiprocessing.Pipe()`` is a ``socketpair``) the kernel tells the peer's inode and
the bytes queued, through a ``SOCK_DIAG_BY_FAMILY`` dump (no privilege needed).  For TCP and
UDP, the peer is the socket of this host at the other end of the addresses (see
:func:`inet_peers`), e.g. a loopback connection between two processes of the tree.  Anything
else (a listener, an unconnected UDP socket, netlink) stays unresolved and counts as connected
to the outside.
"""

from __future__ import annotations

import _socket as socket  # the built-in core: ``socket`` builds its enums at import
import struct
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

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


# -- TCP and UDP on this host (/proc/net/tcp, tcp6, udp, udp6) --------------------------------

INET_TABLES = (("tcp", socket.SOCK_STREAM), ("tcp6", socket.SOCK_STREAM),
               ("udp", socket.SOCK_DGRAM), ("udp6", socket.SOCK_DGRAM))
TCP_ESTABLISHED = 1
TCP_LISTEN = 10
#: an address none is bound or connected to, as /proc/net prints it
_ANY = {"00000000", "00000000000000000000000000000000"}


@dataclass(frozen=True)
class InetEntry:
    """One line of /proc/net/{tcp,udp}[6]: addresses as the kernel prints them (hex)."""

    inode: int
    type: int
    state: int
    local: Tuple[str, str]  # (address, port)
    remote: Tuple[str, str]
    rqueue: int
    wqueue: int


def parse_inet(text: str, stype: int) -> Iterator[InetEntry]:
    """The lines of one /proc/net table (the header skipped, a bad line ignored)."""
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 10:
            continue
        try:
            laddr, lport = f[1].split(":")
            raddr, rport = f[2].split(":")
            tx, rx = f[4].split(":")
            yield InetEntry(int(f[9]), stype, int(f[3], 16), (laddr, lport), (raddr, rport),
                            int(rx, 16), int(tx, 16))
        except ValueError:
            continue


def inet_peers(entries: Iterable[InetEntry]) -> Dict[int, UnixSocket]:
    """TCP and UDP sockets by inode, each with its peer's inode where the peer is a socket of
    this host that only it can hear from:

    * a TCP connection: the socket whose local and remote addresses are this one's, swapped
      (the kernel delivers to that socket only);
    * a connected UDP socket: it takes datagrams from its remote address only, so the peer is
      the one socket bound to that address (or to any address on that port); none, or several,
      and any process may bind or share it: no peer.

    An unconnected UDP socket, a listening TCP socket, or one whose peer is not here has none:
    it counts as reachable from outside."""
    entries = list(entries)
    by_pair: Dict[Tuple[int, Tuple[str, str], Tuple[str, str]], List[int]] = {}
    by_port: Dict[Tuple[int, str], List[InetEntry]] = {}
    for e in entries:
        by_pair.setdefault((e.type, e.local, e.remote), []).append(e.inode)
        by_port.setdefault((e.type, e.local[1]), []).append(e)
    out: Dict[int, UnixSocket] = {}
    for e in entries:
        peer = None
        if e.inode and e.remote[0] not in _ANY:
            if e.type == socket.SOCK_STREAM:
                found = by_pair.get((e.type, e.remote, e.local), [])
                if e.state == TCP_ESTABLISHED and len(found) == 1:
                    peer = found[0]
            else:
                bound = [b for b in by_port.get((e.type, e.remote[1]), [])
                         if b.local[0] == e.remote[0] or b.local[0] in _ANY]
                if len(bound) == 1 and bound[0].inode:
                    peer = bound[0].inode
        out[e.inode] = UnixSocket(e.inode, e.type, e.state, peer, e.rqueue, e.wqueue)
    return out


def inet_sockets(root: str = "/proc/net") -> Dict[int, UnixSocket]:
    """TCP and UDP sockets of this network namespace by inode (see :func:`inet_peers`); empty
    when the tables cannot be read."""
    entries: List[InetEntry] = []
    for name, stype in INET_TABLES:
        try:
            with open(f"{root}/{name}") as f:
                entries.extend(parse_inet(f.read(), stype))
        except OSError:
            continue
    return inet_peers(entries)
