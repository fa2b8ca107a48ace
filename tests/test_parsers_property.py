"""Property tests: the /proc parsers never raise, whatever the kernel (or a hostile process
name) gives them, and get right what they can."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from mpdoctor.model import WaitKind
from mpdoctor.observe import procfs, sockets, syscalls

# a command name may hold anything but NUL, up to 15 bytes in the kernel; be more hostile
names = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=40)
ints = st.integers(min_value=0, max_value=2**31 - 1)


@given(pid=ints, comm=names, state=st.sampled_from("RSDZTtXI"), ppid=ints, pgrp=ints,
       utime=ints, stime=ints, exit_code=ints)
@settings(max_examples=300)
def test_stat_survives_any_command_name(pid, comm, state, ppid, pgrp, utime, stime, exit_code):
    fields = [state, ppid, pgrp, 0, 0, -1, 0, 0, 0, 0, 0, utime, stime] + [0] * 36 + [exit_code]
    line = f"{pid} ({comm}) " + " ".join(map(str, fields)) + "\n"
    parsed = procfs.parse_stat(line)
    assert parsed is not None
    assert (parsed.pid, parsed.comm, parsed.state, parsed.ppid, parsed.pgrp) == (
        pid, comm, state, ppid, pgrp)
    assert (parsed.utime, parsed.stime, parsed.exit_code) == (utime, stime, exit_code)


@given(st.text(max_size=200))
def test_stat_garbage_never_raises(text):
    procfs.parse_stat(text)


@given(st.text(max_size=200))
def test_small_parsers_never_raise(text):
    procfs.parse_schedstat(text)
    procfs.parse_children(text)
    procfs.parse_maps_line(text)
    procfs.parse_epoll_targets(text)
    procfs.pipe_inode(text)
    procfs.channel_inode(text)
    sockets.socket_inode(text)


@given(st.text(max_size=200), st.sampled_from(["x86_64", "aarch64", "riscv64"]))
def test_syscall_lines_never_raise(text, arch):
    wait = syscalls.decode(text, arch)
    assert isinstance(wait.kind, WaitKind)


@given(nr=st.sampled_from(sorted(syscalls.X86_64)),
       args=st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=8, max_size=8))
def test_every_known_syscall_decodes(nr, args):
    line = " ".join([str(nr)] + [hex(a) for a in args])
    wait = syscalls.decode(line, "x86_64")
    assert wait.kind is not WaitKind.UNKNOWN
    assert not (wait.kind is WaitKind.SLEEP and wait.indefinite)  # a sleep always ends


@given(st.lists(st.tuples(st.integers(-2**31, 2**31 - 1), st.integers(0, 0xFFFF)), max_size=64))
def test_pollfds_round_trip(pairs):
    data = b"".join(struct.pack("ihh", fd, ev - 0x10000 if ev > 0x7FFF else ev, 0)
                    for fd, ev in pairs)
    assert procfs.parse_pollfds(data) == pairs


@given(st.sets(st.integers(0, 1023)))
def test_fdsets_round_trip(fds):
    bits = bytearray(128)
    for fd in fds:
        bits[fd // 8] |= 1 << (fd % 8)
    assert procfs.parse_fdset(bytes(bits), 1024) == sorted(fds)


@given(st.binary(max_size=300))
def test_netlink_replies_never_raise(data):
    sockets.parse([data])


def test_kernel_threads_and_vanished_pids_read_as_nothing_or_running():
    # pid 2 is kthreadd on Linux: no command line, and nothing mpdoctor would misread
    assert procfs.cmdline(2) == ()
    assert procfs.tasks(999_999_999) == []
    assert procfs.fds(999_999_999) is None
