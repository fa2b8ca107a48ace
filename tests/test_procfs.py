import os
import struct
import subprocess
import sys

from mpdoctor.observe import procfs


def test_parse_stat_with_parentheses_and_spaces_in_the_name():
    text = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 5 0 0"
    st = procfs.parse_stat(text)
    assert st.pid == 4242 and st.comm == "a) b (c)" and st.state == "S"
    assert (st.ppid, st.pgrp, st.utime, st.stime) == (1, 4242, 7, 3)


def test_parse_stat_garbage():
    assert procfs.parse_stat("") is None
    assert procfs.parse_stat("12 (x") is None


def test_schedstat_and_children():
    assert procfs.parse_schedstat("731807 0 2\n") == 2
    assert procfs.parse_schedstat("") is None
    assert procfs.parse_children("12 13 \n") == [12, 13]


def test_pollfds_and_fdsets():
    data = struct.pack("ihh", 11, 1, 0) + struct.pack("ihh", -1, 1, 0)
    assert procfs.parse_pollfds(data) == [(11, 1), (-1, 1)]
    bits = bytearray(8)
    bits[0] = 0b00010010
    assert procfs.parse_fdset(bytes(bits), 64) == [1, 4]


def test_epoll_fdinfo():
    text = ("pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n"
            "tfd:        5 events:       19 data:                5  pos:0 ino:28a sdev:8\n"
            "tfd:        7 events:        4 data:                7  pos:0 ino:28b sdev:d\n")
    assert procfs.parse_epoll_targets(text) == [(5, 0x19), (7, 4)]


def test_maps_line():
    m = procfs.parse_maps_line(
        "7fd3908e7000-7fd3908e8000 rw-s 00000000 00:1b 18      /dev/shm/sem.bTyzek (deleted)\n")
    assert (m.start, m.end, m.perms, m.dev, m.inode) == (0x7FD3908E7000, 0x7FD3908E8000, "rw-s",
                                                       "00:1b", 18)
    assert m.path == "/dev/shm/sem.bTyzek (deleted)"
    assert procfs.parse_maps_line("nonsense") is None


def test_pipe_inode():
    assert procfs.pipe_inode("pipe:[10265]") == 10265
    assert procfs.pipe_inode("socket:[1]") is None
    assert procfs.pipe_inode("/dev/null") is None


def test_vanished_process_reads_as_nothing():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert procfs.stat(p.pid) is None
    assert procfs.tasks(p.pid) == []
    assert procfs.syscall_line(p.pid, p.pid) is None
    assert procfs.fds(p.pid) is None
    assert procfs.cmdline(p.pid) == ()


def test_pipe_levels_measure_without_reading():
    r, w = os.pipe()
    try:
        os.write(w, b"x" * 1000)
        pending, capacity = procfs.pipe_levels(os.getpid(), w)
        assert pending == 1000 and capacity >= 4096
        assert os.read(r, 2000) == b"x" * 1000  # the data is still there
    finally:
        os.close(r)
        os.close(w)


def test_blocked_child_is_seen_in_read():
    r, w = os.pipe()
    child = subprocess.Popen([sys.executable, "-c", "import os,sys; os.read(int(sys.argv[1]), 1)",
                              str(r)], pass_fds=(r,))
    try:
        for _ in range(2000):  # until the child sits in read(): bounded, not a sleep
            line = procfs.syscall_line(child.pid, child.pid) or ""
            if line.split()[:2] == ["0", hex(r)]:
                break
            os.sched_yield()
            import time
            time.sleep(0.005)
        else:
            raise AssertionError(f"child never blocked in read: {line!r}")
        target = procfs.fd_target(child.pid, r)
        assert target.startswith("pipe:[")
    finally:
        os.write(w, b"x")
        child.wait(timeout=30)
        os.close(r)
        os.close(w)


def test_non_ascii_digits_are_not_pids():
    # str.isdigit() accepts '¹' and '٣', which int() refuses (found by a property test)
    assert procfs.parse_children("12 ¹ ٣ 13") == [12, 13]
