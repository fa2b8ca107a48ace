"""Socket peers: unix sockets from sock_diag, TCP and UDP from /proc/net (observe/sockets.py)."""

from __future__ import annotations

import socket

import pytest

from mpdoctor.observe import sockets
from mpdoctor.observe.sockets import inet_peers, inet_sockets, parse_inet

HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
          "timeout inode\n")


def line(local: str, remote: str, state: int, inode: int, tx: int = 0, rx: int = 0) -> str:
    return (f"   0: {local} {remote} {state:02X} {tx:08X}:{rx:08X} 00:00000000 00000000     0"
            f"        0 {inode} 1 0000000000000000 20 4 30 10 -1\n")


LO_A, LO_B = "0100007F:9C40", "0100007F:9C41"  # 127.0.0.1:40000 and :40001
NOWHERE = "00000000:0000"


def test_a_tcp_connection_pairs_its_two_ends_and_a_listener_has_no_peer():
    text = HEADER + line(LO_A, NOWHERE, 0x0A, 10) + line(LO_A, LO_B, 1, 11, rx=5) \
        + line(LO_B, LO_A, 1, 12)
    found = inet_peers(parse_inet(text, socket.SOCK_STREAM))
    assert found[11].peer == 12 and found[12].peer == 11
    assert found[11].rqueue == 5 and found[12].rqueue == 0
    assert found[10].peer is None and found[10].state == 0x0A


def test_a_tcp_socket_whose_peer_is_not_here_has_none():
    text = HEADER + line(LO_A, "0200A8C0:0050", 1, 11)  # to 192.168.0.2:80
    assert inet_peers(parse_inet(text, socket.SOCK_STREAM))[11].peer is None


def test_a_connected_udp_socket_hears_only_the_one_socket_bound_at_its_remote_address():
    text = HEADER + line(LO_A, LO_B, 1, 21) + line(LO_B, NOWHERE, 7, 22)
    assert inet_peers(parse_inet(text, socket.SOCK_DGRAM))[21].peer == 22
    # bound to any address on that port: the same
    text = HEADER + line(LO_A, LO_B, 1, 21) + line("00000000:9C41", NOWHERE, 7, 22)
    assert inet_peers(parse_inet(text, socket.SOCK_DGRAM))[21].peer == 22


@pytest.mark.parametrize("others", [
    [],  # nobody bound there: anyone may bind it and send
    [line(LO_B, NOWHERE, 7, 22), line("00000000:9C41", NOWHERE, 7, 23)],  # shared port
])
def test_a_udp_remote_address_nobody_or_several_hold_is_reachable_from_outside(others):
    text = HEADER + line(LO_A, LO_B, 1, 21) + "".join(others)
    assert inet_peers(parse_inet(text, socket.SOCK_DGRAM))[21].peer is None


def test_an_unconnected_udp_socket_has_no_peer_and_a_bad_line_is_skipped():
    text = HEADER + line(LO_A, NOWHERE, 7, 21) + "   1: garbage\n" + "   2: a b c d e f g h i j\n"
    found = inet_peers(parse_inet(text, socket.SOCK_DGRAM))
    assert set(found) == {21} and found[21].peer is None


def _inode(s: socket.socket) -> int:
    import os

    return int(os.readlink(f"/proc/self/fd/{s.fileno()}")[len("socket:["):-1])


def test_a_real_loopback_connection_and_connected_udp_pair_are_resolved():
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        a.connect(b.getsockname())
        found = inet_sockets()
        assert found[_inode(client)].peer == _inode(server)
        assert found[_inode(server)].peer == _inode(client)
        assert found[_inode(listener)].peer is None
        assert found[_inode(listener)].state == sockets.TCP_LISTEN
        assert found[_inode(a)].peer == _inode(b)
        assert found[_inode(b)].peer is None  # not connected: anyone may send to it
    finally:
        for s in (listener, client, server, a, b):
            s.close()


def test_unreadable_tables_give_nothing(tmp_path):
    assert inet_sockets(str(tmp_path)) == {}
