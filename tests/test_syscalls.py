from mpdoctor.model import WaitKind
from mpdoctor.observe.syscalls import decode, parse_line


def test_running_and_unreadable():
    assert decode("running", "x86_64").kind is WaitKind.RUNNING
    assert decode("", "x86_64").kind is WaitKind.UNKNOWN
    assert decode("-1 0x7ffd 0x7f00", "x86_64").kind is WaitKind.OTHER


def test_wait4_for_one_child():
    w = decode("61 0x81b 0x7fff9777203c 0x0 0x0 0x0 0x0 0x7fff97772028 0x7fc54a4f1bd3", "x86_64")
    assert (w.kind, w.pid, w.indefinite) == (WaitKind.CHILD, 0x81B, True)


def test_wait4_nohang_is_not_a_wait():
    w = decode("61 0xffffffff 0x0 0x1 0x0 0x0 0x0 0x1 0x2", "x86_64")
    assert w.pid == -1 and not w.indefinite


def test_futex_private_without_timeout():
    w = decode("202 0x5643ea5fe890 0x189 0x0 0x0 0x0 0xffffffff 0x7fff 0x7fc5", "x86_64")
    assert w.kind is WaitKind.FUTEX and w.private and w.indefinite
    assert w.address == 0x5643EA5FE890


def test_futex_shared_semaphore():
    w = decode("202 0x7fc54acfe000 0x109 0x0 0x0 0x0 0xffffffff 0x7fc5 0x7fc5", "x86_64")
    assert w.kind is WaitKind.FUTEX and not w.private and w.indefinite


def test_futex_with_timeout_is_finite():
    w = decode("202 0x7fc54acfe000 0x189 0x0 0x7ffd00001000 0x0 0xffffffff 0x1 0x2", "x86_64")
    assert not w.indefinite


def test_futex_wake_is_not_a_wait():
    w = decode("202 0x7fc54acfe000 0x81 0x1 0x0 0x0 0x0 0x1 0x2", "x86_64")
    assert w.kind is WaitKind.OTHER


def test_write_on_pipe():
    w = decode("1 0x4 0x7fbd4400b880 0x9c5e 0x56289ab624e0 0x0 0x0 0x7fbd 0x7fbd", "x86_64")
    assert (w.kind, w.fd, w.count, w.indefinite) == (WaitKind.WRITE, 4, 40030, True)


def test_read_on_pipe():
    w = decode("0 0x5 0x55d7687f2550 0x1000 0x7f9f5a3e7f58 0x0 0x0 0x7ffe 0x7f9f", "x86_64")
    assert (w.kind, w.fd, w.count) == (WaitKind.READ, 5, 4096)


def test_poll_infinite_and_finite():
    inf = decode("7 0x7fc8596c4570 0x1 0xffffffff 0x1 0x0 0x0 0x7ffd 0x7fc8", "x86_64")
    assert inf.kind is WaitKind.POLL and inf.indefinite
    fin = decode("7 0x7fc8596c4570 0x1 0xc8 0x1 0x0 0x0 0x7ffd 0x7fc8", "x86_64")
    assert fin.kind is WaitKind.POLL and not fin.indefinite


def test_epoll_wait_infinite():
    w = decode("232 0x8 0x7f8b78b58240 0x3 0xffffffff 0x0 0x0 0x7ffe 0x7f8b", "x86_64")
    assert w.kind is WaitKind.POLL and w.indefinite and w.epoll_fd == 8


def test_sleep_is_never_indefinite():
    w = decode("230 0x0 0x0 0x7ffd 0x7ffd 0x0 0x0 0x1 0x2", "x86_64")
    assert w.kind is WaitKind.SLEEP and not w.indefinite


def test_aarch64_numbers():
    assert decode("260 0x10 0x0 0x0 0x0 0x0 0x0 0x1 0x2", "aarch64").kind is WaitKind.CHILD
    assert decode("64 0x4 0x0 0x10 0x0 0x0 0x0 0x1 0x2", "aarch64").kind is WaitKind.WRITE
    assert decode("73 0x1000 0x1 0x0 0x0 0x0 0x0 0x1 0x2", "aarch64").indefinite  # ppoll, NULL


def test_unknown_architecture_is_never_a_wait():
    assert decode("1 0x4 0x0 0x10 0x0 0x0 0x0 0x1 0x2", "sparc").kind is WaitKind.OTHER


def test_parse_line_garbage():
    assert parse_line("garbage here") == (None, ())
