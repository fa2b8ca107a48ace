"""Small, tolerant readers of /proc.

Every function here returns ``None`` (or an empty value) when the process or thread has gone,
or the file cannot be read: processes vanish between two reads all the time, and that is never
an error.  Reads use ``os.open``/``os.read`` because the watchdog makes hundreds of them a second.
The records are named tuples rather than dataclasses: this module is loaded before the script
starts, and ``dataclasses`` alone costs more to import than all of it.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios

from mpdoctor.fdtargets import bracketed_inode, channel_inode, pipe_inode  # noqa: F401 - re-exported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Set, Tuple
    from typing import NamedTuple as Record
else:  # (typing costs more than the rest of what loads while a short script runs)
    from mpdoctor.record import Record

PROC = "/proc"
F_GETPIPE_SZ = 1032  # fcntl.F_GETPIPE_SZ exists only from Python 3.10


def read_bytes(path: str, size: int = 4096, whole: bool = True) -> Optional[bytes]:
    """Read a /proc file.  seq_file-backed files (maps, fdinfo, children) hand out about a page
    per read, so ``whole`` reads until end of file; one-line files (syscall, schedstat, stat)
    fit in one read of ``size`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunk = os.read(fd, size)
        if not whole or not chunk:
            return chunk
        chunks = [chunk]
        while True:
            chunk = os.read(fd, max(size, 65536))
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_text(path: str, size: int = 4096, whole: bool = True) -> Optional[str]:
    data = read_bytes(path, size, whole)
    return None if data is None else data.decode("utf-8", "replace")


def listdir_ints(path: str) -> List[int]:
    try:
        return [int(n) for n in os.listdir(path) if n.isascii() and n.isdigit()]
    except OSError:
        return []


def readlink(path: str) -> Optional[str]:
    try:
        return os.readlink(path)
    except OSError:
        return None


class Stat(Record):
    """The fields of /proc/PID/stat (or .../task/TID/stat) that mpdoctor uses."""

    pid: int
    comm: str
    state: str
    ppid: int
    pgrp: int
    session: int
    utime: int
    stime: int
    starttime: int = 0  # clock ticks after boot: tells a reused pid from the old process
    exit_code: Optional[int] = None  # wait status of a zombie (raw, as waitpid reports it)


def parse_stat(text: str) -> Optional[Stat]:
    """Parse a stat line.  The command name sits in parentheses and may itself contain spaces
    and parentheses (``a) b``), so it is everything between the first ``(`` and the last ``)``.
    """
    try:
        open_ = text.index("(")
        close = text.rindex(")")
        pid = int(text[:open_].strip())
        comm = text[open_ + 1:close]
        rest = text[close + 1:].split()
        return Stat(pid=pid, comm=comm, state=rest[0], ppid=int(rest[1]), pgrp=int(rest[2]),
                    session=int(rest[3]), utime=int(rest[11]), stime=int(rest[12]),
                    starttime=int(rest[19]) if len(rest) > 19 else 0,
                    exit_code=int(rest[49]) if len(rest) > 49 else None)
    except (ValueError, IndexError):
        return None


def stat(pid: int, tid: Optional[int] = None) -> Optional[Stat]:
    path = f"{PROC}/{pid}/stat" if tid is None else f"{PROC}/{pid}/task/{tid}/stat"
    text = read_text(path, 1024, whole=False)
    return None if text is None else parse_stat(text)


def parse_schedstat(text: str) -> Optional[int]:
    """Times the task was scheduled onto a CPU (third field): unchanged means it did not run."""
    parts = text.split()
    try:
        return int(parts[2])
    except (IndexError, ValueError):
        return None


def tasks(pid: int) -> List[int]:
    return listdir_ints(f"{PROC}/{pid}/task")


def syscall_line(pid: int, tid: int) -> Optional[str]:
    return read_text(f"{PROC}/{pid}/task/{tid}/syscall", 256, whole=False)


def run_count(pid: int, tid: int) -> Optional[int]:
    text = read_text(f"{PROC}/{pid}/task/{tid}/schedstat", 128, whole=False)
    return None if text is None else parse_schedstat(text)


def parse_children(text: str) -> List[int]:
    return [int(x) for x in text.split() if x.isascii() and x.isdigit()]


def children(pid: int, tid: int) -> Optional[List[int]]:
    """Children forked by one thread (needs CONFIG_PROC_CHILDREN; ``None`` if unavailable)."""
    text = read_text(f"{PROC}/{pid}/task/{tid}/children")
    return None if text is None else parse_children(text)


def wchan(pid: int, tid: int) -> str:
    text = read_text(f"{PROC}/{pid}/task/{tid}/wchan", 128, whole=False)
    return "" if not text or text == "0" else text.strip()


def cmdline(pid: int) -> Tuple[str, ...]:
    data = read_bytes(f"{PROC}/{pid}/cmdline")
    if not data:
        return ()
    return tuple(x.decode("utf-8", "replace") for x in data.rstrip(b"\0").split(b"\0"))


def fd_target(pid: int, fd: int) -> Optional[str]:
    return readlink(f"{PROC}/{pid}/fd/{fd}")


def fds(pid: int) -> Optional[Dict[int, str]]:
    """Every fd of a process and what it points at; ``None`` when the table cannot be read."""
    try:
        # each link is looked up from the directory's own fd: the kernel does not walk
        # /proc/PID/fd again for every one of them
        base = os.open(f"{PROC}/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        names = os.listdir(base)
        out: Dict[int, str] = {}
        link = os.readlink
        for name in names:  # (a forked child of a big tree has thousands: kept tight)
            try:
                out[int(name)] = link(name, dir_fd=base)
            except (OSError, ValueError):
                continue  # closed meanwhile (or not a number)
        return out
    except OSError:
        return None
    finally:
        os.close(base)


def parse_epoll_targets(text: str) -> List[Tuple[int, int]]:
    """``(fd, events)`` of each fd registered in an epoll instance's fdinfo."""
    out = []
    for line in text.splitlines():
        if line.startswith("tfd:"):
            parts = line.split()
            try:
                fd = int(parts[1])
                events = int(parts[parts.index("events:") + 1], 16)
            except (IndexError, ValueError):
                continue
            out.append((fd, events))
    return out


def epoll_targets(pid: int, epfd: int) -> Optional[List[Tuple[int, int]]]:
    text = read_text(f"{PROC}/{pid}/fdinfo/{epfd}", 65536)
    return None if text is None else parse_epoll_targets(text)


def read_memory(pid: int, address: int, size: int) -> Optional[bytes]:
    """Read another process's memory (needs the same permission as ptrace)."""
    if size <= 0 or size > 1 << 20:
        return None
    try:
        fd = os.open(f"{PROC}/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.pread(fd, size, address)
        return data if len(data) == size else None
    except (OSError, OverflowError):
        return None
    finally:
        os.close(fd)


def parse_pollfds(data: bytes) -> List[Tuple[int, int]]:
    """``(fd, events)`` for each ``struct pollfd {int fd; short events; short revents;}``."""
    return [(fd, events & 0xFFFF) for fd, events, _ in struct.iter_unpack("ihh", data)]


def parse_fdset(data: bytes, nfds: int) -> List[int]:
    """The fds set in a ``fd_set`` bitmap of ``nfds`` bits."""
    out = []
    for fd in range(min(nfds, len(data) * 8)):
        if data[fd // 8] >> (fd % 8) & 1:
            out.append(fd)
    return out


class Mapping(Record):
    start: int
    end: int
    perms: str
    dev: str
    inode: int
    path: str


def parse_maps_line(line: str) -> Optional[Mapping]:
    parts = line.split(maxsplit=5)
    try:
        lo, hi = parts[0].split("-")
        return Mapping(int(lo, 16), int(hi, 16), parts[1], parts[3], int(parts[4]),
                       parts[5].strip() if len(parts) > 5 else "")
    except (IndexError, ValueError):
        return None


def maps_text(pid: int) -> Optional[str]:
    return read_text(f"{PROC}/{pid}/maps", 1 << 16)


def mapping_at(pid: int, address: int, text: Optional[str] = None) -> Optional[Mapping]:
    """The mapping of ``pid`` that holds ``address`` (``text``: its maps, already read)."""
    if text is None:
        text = maps_text(pid)
    if text is None:
        return None
    for line in text.splitlines():
        span = line.split(" ", 1)[0]
        lo, _, hi = span.partition("-")
        try:
            if not int(lo, 16) <= address < int(hi, 16):
                continue  # (only the line that holds it is parsed in full)
        except ValueError:
            continue
        return parse_maps_line(line)
    return None


def mapped_keys(pid: int, text: Optional[str] = None) -> Optional[set]:
    """``dev:inode`` of every shared file mapping of a process (``text``: its maps)."""
    if text is None:
        text = maps_text(pid)
    if text is None:
        return None
    keys = set()
    for line in text.splitlines():
        m = parse_maps_line(line)
        if m is not None and m.inode and len(m.perms) > 3 and m.perms[3] == "s":
            keys.add(f"{m.dev}:{m.inode}")
    return keys


def shm_keys(directory: str = "/dev/shm") -> Set[str]:
    """``dev:inode`` (as /proc/PID/maps writes them) of every file in /dev/shm."""
    out: Set[str] = set()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        out.add(f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}")
    return out


def pipe_levels(pid: int, fd: int) -> Tuple[Optional[int], Optional[int]]:
    """``(bytes pending, capacity)`` of the pipe behind ``/proc/PID/fd/FD``.

    The pipe is opened read-only and non-blocking through /proc and only measured
    (``FIONREAD``), never read, so the program's data is left untouched.
    """
    try:
        our = os.open(f"{PROC}/{pid}/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None, None
    try:
        try:
            buf = fcntl.ioctl(our, termios.FIONREAD, b"\0\0\0\0")
            pending: Optional[int] = struct.unpack("i", buf)[0]
        except OSError:
            pending = None
        try:
            capacity: Optional[int] = fcntl.fcntl(our, F_GETPIPE_SZ)
        except OSError:
            capacity = None
        return pending, capacity
    finally:
        os.close(our)


def own_children() -> List[int]:
    """Children of the calling process, over all its threads (zombies included)."""
    pid = os.getpid()
    out: List[int] = []
    for tid in tasks(pid):
        out.extend(children(pid, tid) or [])
    return out


# -- signals and timers ---------------------------------------------------------------------
#
# A wait with no timeout can still end when a signal arrives: a handler runs and may raise, or
# the default action ends the process.  The signals that matter come from timers the process
# set itself, and SIGCHLD from its children; what it catches and ignores is in its status file.


def parse_signal_masks(text: str) -> Optional[Tuple[int, int]]:
    """(caught, ignored) signal bit masks from /proc/PID/status (SigCgt, SigIgn)."""
    caught = ignored = None
    for line in text.splitlines():
        if line.startswith("SigCgt:"):
            caught = _hex(line[7:])
        elif line.startswith("SigIgn:"):
            ignored = _hex(line[7:])
    if caught is None or ignored is None:
        return None
    return caught, ignored


def _hex(text: str) -> Optional[int]:
    try:
        return int(text.strip(), 16)
    except ValueError:
        return None


def signal_masks(pid: int) -> Optional[Tuple[int, int]]:
    text = read_text(f"{PROC}/{pid}/status", 4096, whole=False)
    return None if text is None else parse_signal_masks(text)


class PosixTimer(Record):
    """One timer_create() timer of a process, as /proc/PID/timers lists it."""

    signal: int
    notify: str  # "signal", "thread" (SIGEV_THREAD_ID), "none"
    target: Optional[int]  # the pid or tid it signals
    clock: int  # clockid_t; CPU-time clocks are 2, 3 and negative (another process's)


#: clocks that count CPU time: a timer on one cannot fire while the process does not run
CPU_CLOCKS = (2, 3)


def parse_posix_timers(text: str) -> List[PosixTimer]:
    out: List[PosixTimer] = []
    fields: Dict[str, str] = {}

    def flush() -> None:
        if "signal" not in fields:
            return
        try:
            signum = int(fields["signal"].split("/", 1)[0])
            clock = int(fields.get("ClockID", "0"))
        except ValueError:
            return
        notify, _, target = fields.get("notify", "signal/").partition("/")
        tid: Optional[int] = None
        if "." in target:
            number = target.rsplit(".", 1)[1]
            tid = int(number) if number.isascii() and number.isdigit() else None
        out.append(PosixTimer(signum, notify, tid, clock))

    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "ID":
            flush()
            fields = {}
        fields[key.strip()] = value.strip()
    flush()
    return out


def posix_timers(pid: int) -> Optional[List[PosixTimer]]:
    text = read_text(f"{PROC}/{pid}/timers", 4096)
    return None if text is None else parse_posix_timers(text)


def parse_timer_list(text: str) -> Optional[Tuple[Tuple[float, ...], int]]:
    """From /proc/timer_list: the expiry (CLOCK_MONOTONIC seconds) of every armed
    alarm()/setitimer(ITIMER_REAL) timer on the machine (``it_real_fn``), and how many
    timer_create() timers are armed (``posix_timer_fn``).  None if the text is not a timer list
    (a container may mask the file with an empty one)."""
    if not text.startswith("Timer List Version"):
        return None
    alarms: List[float] = []
    posix = 0
    offset = 0
    pending: Optional[str] = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(".offset:"):
            try:
                offset = int(s.split()[1])
            except (IndexError, ValueError):
                offset = 0
        elif s.startswith("#") and ", " in s and not s.startswith("# expires"):
            pending = s.split(", ")[1] if s.count(", ") >= 1 else None
            if pending == "posix_timer_fn":
                posix += 1
        elif s.startswith("# expires at ") and pending == "it_real_fn":
            try:
                first = s[len("# expires at "):].split("-", 1)[0]
                alarms.append((int(first) - offset) / 1e9)
            except ValueError:
                pass
            pending = None
    return tuple(alarms), posix


def timer_list() -> Optional[Tuple[Tuple[float, ...], int]]:
    text = read_text(f"{PROC}/timer_list", 1 << 16)
    return None if text is None else parse_timer_list(text)
