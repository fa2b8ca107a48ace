"""Decode a blocked thread's ``/proc/PID/task/TID/syscall`` line into a :class:`Wait`.

The line is ``NR ARG0 .. ARG5 SP PC`` (hex arguments), ``running`` for a thread on a CPU, or
``-1 SP PC`` for a thread stopped outside a syscall.  Syscall numbers differ per architecture;
the tables below come from the kernel's ``arch/x86/entry/syscalls/syscall_64.tbl`` and
``include/uapi/asm-generic/unistd.h`` (aarch64).
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Sequence, Tuple

from mpdoctor.model import Wait, WaitKind

X86_64: Dict[int, str] = {
    0: "read", 1: "write", 7: "poll", 17: "pread64", 18: "pwrite64", 19: "readv", 20: "writev",
    23: "select", 34: "pause", 35: "nanosleep", 42: "connect", 43: "accept", 44: "sendto",
    45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 61: "wait4", 72: "fcntl", 73: "flock",
    128: "rt_sigtimedwait", 130: "rt_sigsuspend", 202: "futex", 230: "clock_nanosleep",
    232: "epoll_wait", 247: "waitid", 270: "pselect6", 271: "ppoll", 281: "epoll_pwait",
    288: "accept4", 295: "preadv", 296: "pwritev", 299: "recvmmsg", 307: "sendmmsg",
    441: "epoll_pwait2", 449: "futex_waitv",
}

AARCH64: Dict[int, str] = {
    22: "epoll_pwait", 25: "fcntl", 32: "flock", 63: "read", 64: "write", 65: "readv",
    66: "writev", 67: "pread64", 68: "pwrite64", 69: "preadv", 70: "pwritev", 72: "pselect6",
    73: "ppoll", 95: "waitid", 98: "futex", 101: "nanosleep", 115: "clock_nanosleep",
    133: "rt_sigsuspend", 137: "rt_sigtimedwait", 202: "accept", 203: "connect", 206: "sendto",
    207: "recvfrom", 211: "sendmsg", 212: "recvmsg", 242: "accept4", 243: "recvmmsg",
    260: "wait4", 269: "sendmmsg", 441: "epoll_pwait2", 449: "futex_waitv",
}

TABLES = {"x86_64": X86_64, "aarch64": AARCH64}

READS = {"read", "readv", "pread64", "preadv", "recvfrom", "recvmsg", "recvmmsg"}
WRITES = {"write", "writev", "pwrite64", "pwritev", "sendto", "sendmsg", "sendmmsg"}
SLEEPS = {"nanosleep", "clock_nanosleep"}

# futex(2) commands that block (after masking FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME)
FUTEX_PRIVATE_FLAG = 128
FUTEX_CMD_MASK = ~(128 | 256)
FUTEX_WAITS = {0: "FUTEX_WAIT", 6: "FUTEX_LOCK_PI", 9: "FUTEX_WAIT_BITSET",
               11: "FUTEX_WAIT_REQUEUE_PI", 13: "FUTEX_LOCK_PI2"}

POLLIN, POLLPRI, POLLOUT = 0x1, 0x2, 0x4


def machine() -> str:
    return os.uname().machine  # (what platform.machine() says on Linux, without its imports)


def table(arch: str) -> Dict[int, str]:
    return TABLES.get(arch, {})


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def parse_line(line: str) -> Tuple[Optional[int], Tuple[int, ...]]:
    """``(nr, args)`` from a syscall line; ``(None, ())`` for ``running``/unreadable.

    ``nr`` is -1 for a thread that is blocked but not inside a syscall.
    """
    parts = line.split()
    if not parts or parts[0] == "running":
        return None, ()
    try:
        nr = int(parts[0])
        args = tuple(int(x, 16) for x in parts[1:7]) if nr >= 0 else ()
    except ValueError:
        return None, ()
    return nr, args


def decode(line: str, arch: str) -> Wait:
    """What a thread waits for, from its syscall line alone (no fd or memory resolution)."""
    text = line.strip()
    if text == "running":
        return Wait(WaitKind.RUNNING)
    nr, a = parse_line(text)
    if nr is None:
        return Wait(WaitKind.UNKNOWN)
    if nr < 0 or len(a) < 6:
        return Wait(WaitKind.OTHER, syscall="" if nr < 0 else str(nr))
    name = table(arch).get(nr, f"syscall {nr}")
    return decode_call(name, a)


def decode_call(name: str, a: Sequence[int]) -> Wait:
    if name in READS:
        count = a[2] if name in ("read", "pread64", "recvfrom") else None
        return Wait(WaitKind.READ, name, indefinite=True, fd=_signed32(a[0]), count=count)
    if name in WRITES:
        count = a[2] if name in ("write", "pwrite64", "sendto") else None
        return Wait(WaitKind.WRITE, name, indefinite=True, fd=_signed32(a[0]), count=count)
    if name in SLEEPS:
        return Wait(WaitKind.SLEEP, name)
    if name == "futex":
        op = a[1]
        cmd = op & FUTEX_CMD_MASK & 0xFFFFFFFF
        if cmd not in FUTEX_WAITS:
            return Wait(WaitKind.OTHER, name)
        # the timeout is a pointer in the fourth argument for every waiting command; NULL
        # means "until woken"
        return Wait(WaitKind.FUTEX, name, indefinite=a[3] == 0, address=a[0],
                    private=bool(op & FUTEX_PRIVATE_FLAG))
    if name == "wait4":
        options = a[2]
        return Wait(WaitKind.CHILD, name, indefinite=not options & 1, pid=_signed32(a[0]))
    if name == "waitid":
        idtype, ident, options = a[0], _signed32(a[1]), a[3]
        pid = {0: -1, 1: ident, 2: -ident if ident > 0 else 0}.get(idtype, -1)
        return Wait(WaitKind.CHILD, name, indefinite=not options & 1, pid=pid)
    if name == "poll":
        return Wait(WaitKind.POLL, name, indefinite=_signed32(a[2]) < 0)
    if name == "ppoll":
        return Wait(WaitKind.POLL, name, indefinite=a[2] == 0)
    if name in ("select", "pselect6"):
        return Wait(WaitKind.POLL, name, indefinite=a[4] == 0)
    if name in ("epoll_wait", "epoll_pwait"):
        return Wait(WaitKind.POLL, name, indefinite=_signed32(a[3]) < 0, epoll_fd=_signed32(a[0]))
    if name == "epoll_pwait2":
        return Wait(WaitKind.POLL, name, indefinite=a[3] == 0, epoll_fd=_signed32(a[0]))
    if name in ("pause", "rt_sigsuspend"):
        return Wait(WaitKind.SIGNAL, name, indefinite=True)
    if name == "rt_sigtimedwait":
        return Wait(WaitKind.SIGNAL, name, indefinite=a[2] == 0)
    if name in ("accept", "accept4"):
        return Wait(WaitKind.ACCEPT, name, indefinite=True, fd=_signed32(a[0]))
    return Wait(WaitKind.OTHER, name)

