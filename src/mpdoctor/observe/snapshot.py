"""Turn readings of a quiet tree into a :class:`~mpdoctor.model.Snapshot`.

Only what a blocked thread points at is resolved: the fd it reads or writes (and, for a pipe,
its fill level and who holds its two ends), the fds of a poll/select/epoll (read from the
process's memory), the shared mapping a futex lives in, the child a ``wait4`` waits for.
Fd tables and memory maps are cached per process and re-read only when one of its threads ran:
a process whose threads did not run cannot have changed them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat as stat_mod
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mpdoctor.debug import log
from mpdoctor.errors import PTRACE_HELP, SnapshotError
from mpdoctor.model import (Dump, Event, HeldLock, Holder, Libraries, PolledFd, Pipe, Process,
                            Role, SharedMapping, Snapshot, Socket, Thread, Timer, Wait, WaitKind,
                            dump, load)
from mpdoctor.observe import libpaths, procfs, sockets, syscalls, threadmap, timers
from mpdoctor.observe.tree import Reading, TreeReader, moved

EPOLLIN, EPOLLOUT = 0x1, 0x4
#: multiprocessing's resource tracker, and loky's (joblib.externals.loky.backend, or loky
#: itself), which works the same way
RESOURCE_TRACKER_MARK = "resource_tracker import main"
FORKSERVER_MARK = "from multiprocessing.forkserver import main"
#: the forkserver's command line names its listening socket's fd: ``main(LISTENER, ALIVE, ...``
_FORKSERVER_MAIN = re.compile(r"from multiprocessing\.forkserver import main; main\((\d+), ")
TCP_LISTEN = 10  # the state of a listening unix socket in sock_diag
FORKSERVER_LISTENER = ("the forkserver's listening socket: only processes of this tree were "
                       "given its address")


def role_of(pid: int, root_pid: int, cmd: Tuple[str, ...], parent_cmd: Tuple[str, ...]) -> Role:
    if pid == root_pid:
        return Role.MAIN
    text = " ".join(cmd)
    if RESOURCE_TRACKER_MARK in text:
        return Role.RESOURCE_TRACKER
    if FORKSERVER_MARK in text and FORKSERVER_MARK not in " ".join(parent_cmd):
        # its workers are forks of it and share its command line; so do processes a worker
        # forked, and one whose parent is gone is no longer below the forkserver: the
        # forkserver itself is the one that still has the listener its command line names
        if parent_cmd or _listens(pid, text):
            return Role.FORKSERVER
    return Role.CHILD


def _listens(pid: int, cmdline: str) -> bool:
    m = _FORKSERVER_MAIN.search(cmdline)
    if m is None:
        return True  # (a command line of another shape: trust the mark)
    return sockets.socket_inode(procfs.fd_target(pid, int(m.group(1))) or "") is not None


#: a tree of at least this many processes whose fd tables are to be read has them read in
#: parallel, by this many threads (at most one per core)
FD_PREFETCH_MIN = 64
FD_READERS = 4


class Snapshotter:
    """Builds snapshots of one tree; keeps per-process caches between calls."""

    def __init__(self, root_pid: int, reader: TreeReader,
                 outside_inodes: Iterable[int] = (),
                 events: Optional[Callable[[], Sequence[Event]]] = None,
                 libraries: Optional[Libraries] = None,
                 locks: Optional[Callable[[], Sequence[HeldLock]]] = None) -> None:
        self.root_pid = root_pid
        #: the target interpreter's library directories; asked of the root's interpreter at
        #: the first snapshot when not given (None if it cannot say: inferred at diagnosis)
        self.libraries = libraries
        self._asked = libraries is not None
        self.reader = reader
        self.outside = set(outside_inodes)
        #: what the hooks reported so far (None: no hooks run in this tree)
        self.events = events
        #: the user's locks the tree's processes hold, from the hooks' ledgers
        self.locks = locks
        self._fd_cache: Dict[int, Tuple[Tuple, Dict[int, str]]] = {}
        self._maps_cache: Dict[int, Tuple[Tuple, Set[str]]] = {}
        self._maps_now: Dict[int, Optional[str]] = {}  # maps read during the current take()
        self.notes: List[str] = []

    # -- per-process caches, keyed by how often each thread has run ---------------------------
    @staticmethod
    def _progress(reading: Reading, pid: int) -> Tuple:
        """How far each thread of the process has got.  A thread on a CPU at the reading
        ("running") may go on without its schedule count growing: then nothing is cached."""
        out = []
        for tid in reading.tids.get(pid, ()):
            t = reading.threads.get((pid, tid))
            if t is None:
                continue
            out.append((tid, t.runs if t.line not in ("", "running") else None, t.line))
        return tuple(out)

    def _cached_fds(self, reading: Reading, pid: int) -> Tuple[Tuple, Optional[Dict[int, str]]]:
        """The process's progress key, and its fd table if the cached one still holds."""
        key = self._progress(reading, pid)
        cached = self._fd_cache.get(pid)
        if cached is not None and cached[0] == key and all(r is not None for _, r, _ in key):
            return key, cached[1]
        return key, None

    def _fds(self, reading: Reading, pid: int) -> Optional[Dict[int, str]]:
        key, table = self._cached_fds(reading, pid)
        if table is not None:
            return table
        table = procfs.fds(pid)
        if table is not None:
            self._fd_cache[pid] = (key, table)
        return table

    def _prefetch_fds(self, reading: Reading,
                      pids: Sequence[int]) -> Dict[int, Optional[Dict[int, str]]]:
        """The fd tables ``_fds`` would read, for a big tree read in FD_READERS threads: the
        readlinks (about n*n/2 of them in a forked tree, each a /proc lookup in the kernel)
        run on every core, as the tree waits.  Returns the tables read (by pid; None: not
        readable), each the same as read one by one, and cached as ``_fds`` caches them."""
        missing = []
        for pid in pids:
            key, table = self._cached_fds(reading, pid)
            if table is None:
                missing.append((pid, key))
        workers = min(FD_READERS, os.cpu_count() or 1)
        if len(missing) < FD_PREFETCH_MIN or workers < 2:
            return {}
        try:
            tables = threadmap.run(procfs.fds, [pid for pid, _ in missing], workers)
        except RuntimeError:  # no thread can be started: read one by one, as for a small tree
            return {}
        out: Dict[int, Optional[Dict[int, str]]] = {}
        for (pid, key), table in zip(missing, tables):
            out[pid] = table
            if table is not None:
                self._fd_cache[pid] = (key, table)
        return out

    def _maps(self, reading: Reading, pid: int) -> Optional[Set[str]]:
        key = self._progress(reading, pid)
        cached = self._maps_cache.get(pid)
        if cached is not None and cached[0] == key and all(r is not None for _, r, _ in key):
            return cached[1]
        keys = procfs.mapped_keys(pid, self._maps_text(pid))
        if keys is not None:
            self._maps_cache[pid] = (key, keys)
        return keys

    def _maps_text(self, pid: int) -> Optional[str]:
        """A process's maps, read once per snapshot (each of its waiting threads needs it)."""
        if pid not in self._maps_now:
            self._maps_now[pid] = procfs.maps_text(pid)
        return self._maps_now[pid]

    # -- resolution of one wait --------------------------------------------------------------
    def _resolve(self, pid: int, line: str, wait: Wait) -> Wait:
        if not wait.indefinite:
            return wait
        if wait.kind in (WaitKind.READ, WaitKind.WRITE, WaitKind.ACCEPT) and wait.fd is not None:
            return _replace(wait, target=procfs.fd_target(pid, wait.fd) or "")
        if wait.kind is WaitKind.POLL:
            return _replace(wait, fds=tuple(self._polled(pid, line, wait)))
        if wait.kind is WaitKind.FUTEX and not wait.private and wait.address is not None:
            m = procfs.mapping_at(pid, wait.address, self._maps_text(pid))
            if m is None:
                return wait
            if len(m.perms) > 3 and m.perms[3] == "p":
                # a futex in private memory is keyed by the address space: only this process
                return _replace(wait, private=True)
            return _replace(wait, shared_key=f"{m.dev}:{m.inode}")
        return wait

    def _polled(self, pid: int, line: str, wait: Wait) -> List[PolledFd]:
        _, args = syscalls.parse_line(line)
        pairs: List[Tuple[int, bool, bool]] = []
        if wait.epoll_fd is not None:
            for fd, events in procfs.epoll_targets(pid, wait.epoll_fd) or ():
                pairs.append((fd, bool(events & EPOLLIN), bool(events & EPOLLOUT)))
        elif wait.syscall in ("poll", "ppoll") and len(args) >= 2:
            n = args[1]
            data = procfs.read_memory(pid, args[0], 8 * n) if 0 < n <= 4096 else None
            for fd, events in procfs.parse_pollfds(data or b""):
                if fd >= 0:
                    pairs.append((fd, bool(events & (syscalls.POLLIN | syscalls.POLLPRI)),
                                  bool(events & syscalls.POLLOUT)))
        elif wait.syscall in ("select", "pselect6") and len(args) >= 3:
            nfds = args[0]
            size = ((nfds + 63) // 64) * 8
            wanted: Dict[int, List[bool]] = {}
            for index, address in ((0, args[1]), (1, args[2])):
                if address and 0 < nfds <= 65536:
                    data = procfs.read_memory(pid, address, size) or b""
                    for fd in procfs.parse_fdset(data, nfds):
                        wanted.setdefault(fd, [False, False])[index] = True
            pairs = [(fd, r, w) for fd, (r, w) in sorted(wanted.items())]
        return [PolledFd(fd, r, w, procfs.fd_target(pid, fd) or "") for fd, r, w in pairs]

    # -- the snapshot --------------------------------------------------------------------------
    def take(self, before: Reading, now: Reading) -> Snapshot:
        """Resolve what the blocked threads of ``now`` point at, then read the tree once more.

        A thread is marked ``still`` only if it did not run from ``before`` to that last read:
        then everything resolved about it held for the whole window.
        """
        arch = self.reader.arch
        self._maps_now = {}
        waits: Dict[Tuple[int, int], Wait] = {}
        for key, tr in now.threads.items():
            waits[key] = self._resolve(tr.pid, tr.line, tr.wait)

        inodes: Set[int] = set()
        socks: Set[int] = set()
        for w in waits.values():
            for target in [w.target] + [f.target for f in w.fds]:
                inode = procfs.pipe_inode(target)
                if inode is not None:
                    inodes.add(inode)
                sock = sockets.socket_inode(target)
                if sock is not None:
                    socks.add(sock)
        shared_keys = {w.shared_key for w in waits.values() if w.shared_key}
        unix = (sockets.unix_sockets() or {}) if socks else {}
        if socks - set(unix):  # TCP or UDP: loopback peers of the tree are resolved too
            unix = {**sockets.inet_sockets(), **unix}
        peers: Dict[int, int] = {}
        for i in socks:
            peer = unix[i].peer if i in unix else None
            if peer:
                peers[i] = peer
        sock_holders: Dict[int, List[Holder]] = {i: [] for i in socks | set(peers.values())}

        readers: Dict[int, List[Holder]] = {i: [] for i in inodes}
        writers: Dict[int, List[Holder]] = {i: [] for i in inodes}
        mappers: Dict[str, List[int]] = {k: [] for k in shared_keys}
        unreadable: List[int] = []
        # what /proc/PID/fd/N says of each wanted pipe and socket: one dict lookup per fd (a
        # big forked tree has about n*n/2 fds: every child inherits its parent's table)
        wanted: Dict[str, Tuple[bool, int]] = {f"pipe:[{i}]": (False, i) for i in readers}
        wanted.update({f"socket:[{i}]": (True, i) for i in sock_holders})
        read_now = self._prefetch_fds(now, now.pids) if inodes or sock_holders else {}
        for pid in now.pids:
            if inodes or sock_holders:
                table = read_now[pid] if pid in read_now else self._fds(now, pid)
                if table is None:
                    unreadable.append(pid)
                    table = {}
                for fd, target in table.items():
                    hit = wanted.get(target)
                    if hit is None:
                        continue
                    is_socket, inode = hit
                    if is_socket:
                        sock_holders[inode].append(Holder(pid, fd))
                        continue
                    if inode in readers:
                        mode = _fd_mode(pid, fd)
                        if mode is None:
                            continue
                        if mode[0]:
                            readers[inode].append(Holder(pid, fd))
                        if mode[1]:
                            writers[inode].append(Holder(pid, fd))
            if shared_keys:
                keys = self._maps(now, pid) or set()
                for shared_key in shared_keys & keys:
                    mappers[shared_key].append(pid)
        self._maps_now = {}  # (a big tree's maps weigh megabytes: not kept)

        pipes = []
        for inode in sorted(inodes):
            holders = readers[inode] + writers[inode]
            pending = capacity = None
            for h in holders:
                pending, capacity = procfs.pipe_levels(h.pid, h.fd)
                if pending is not None:
                    break
            pipes.append(Pipe(inode, pending, capacity, tuple(readers[inode]),
                              tuple(writers[inode]), outside=inode in self.outside))
        kinds = {1: "stream", 2: "dgram", 5: "seqpacket"}
        private = self._private_listeners(now, socks)
        socket_facts = []
        for inode in sorted(socks):
            u = unix.get(inode)
            peer = peers.get(inode)
            socket_facts.append(Socket(
                inode, peer, kinds.get(u.type, str(u.type)) if u else "",
                u.rqueue if u else None, tuple(sock_holders.get(inode, ())),
                tuple(sock_holders.get(peer, ())) if peer else (),
                outside=inode in self.outside or (peer in self.outside if peer else False),
                listening=u is not None and u.state == TCP_LISTEN,
                private=private.get(inode, "")))
        named = procfs.shm_keys() if shared_keys else set()
        shared = [SharedMapping(k, _mapping_path(mappers[k][0], k) if mappers[k] else "",
                                tuple(mappers[k]), named=k in named)
                  for k in sorted(shared_keys)]

        after = self.reader.read()
        window = after.at - before.at
        log("snapshot", f"{len(now.pids)} processes, {len(inodes)} pipes, {len(socks)} sockets, "
                        f"{len(shared_keys)} shared futexes resolved; window {window:.3f} s")
        notes = list(self.notes)
        if unreadable:
            notes.append(f"could not read the fd tables of {len(unreadable)} processes "
                         f"({', '.join(map(str, unreadable[:5]))}): their pipes count as live")
        if now.unreadable:
            notes.append(f"what {now.unreadable} threads wait for could not be read: they count "
                         "as able to move, so no deadlock can be proven through them. "
                         + PTRACE_HELP)

        processes = []
        cmdlines = {pid: procfs.cmdline(pid) for pid in now.pids}
        events = tuple(self.events()) if self.events is not None else None
        starts = {pid: st.starttime for pid in now.pids
                  for st in [procfs.stat(pid)] if st is not None}
        known = self._timer_facts(events, starts)
        for pid in now.pids:
            st = procfs.stat(pid)
            masks = procfs.signal_masks(pid) or (0, 0)
            hooked = (pid in known) if known is not None else False
            own_timers: Tuple[Timer, ...] = (known or {}).get(pid, ()) + timers.posix(pid)
            ppid = st.ppid if st else now.parent.get(pid, 0)
            threads = []
            for tid in now.tids[pid]:
                found = now.threads.get((pid, tid))
                if found is None:
                    continue
                tr = found
                tst = procfs.stat(pid, tid)
                still = not moved(before.threads.get((pid, tid)), tr) and \
                    not moved(tr, after.threads.get((pid, tid)))
                threads.append(Thread(
                    tid=tid, name=tst.comm if tst else "", state=tst.state if tst else "?",
                    wchan=procfs.wchan(pid, tid), syscall=tr.line, wait=waits[(pid, tid)],
                    runs=tr.runs, still=still))
            processes.append(Process(
                pid=pid, ppid=ppid, pgid=st.pgrp if st else 0, name=st.comm if st else "",
                state=st.state if st else "?", cmdline=cmdlines[pid],
                role=role_of(pid, self.root_pid, cmdlines[pid], cmdlines.get(ppid, ())),
                threads=tuple(threads), exit_status=_exit_status(st),
                starttime=st.starttime if st else 0, sig_caught=masks[0], sig_ignored=masks[1],
                timers=own_timers, hooks=hooked))
        alarm_timers: Optional[Tuple[float, ...]] = None
        posix_armed: Optional[int] = None
        if any((not p.hooks and not p.ignores(timers.SIGALRM)) or p.timers
               for p in processes if p.state != "Z"):
            # only then does it matter which timers are armed on the machine
            listed = procfs.timer_list()
            if listed is not None:
                alarm_timers, posix_armed = listed
        return Snapshot(root_pid=self.root_pid, processes=tuple(processes), pipes=tuple(pipes),
                        shared=tuple(shared), sockets=tuple(socket_facts), taken_at=time.time(),
                        window=round(window, 4), arch=arch, notes=tuple(notes),
                        events=events or (), hooks=events is not None,
                        locks=tuple(self.locks()) if self.locks is not None else (),
                        monotonic=time.monotonic(),
                        signals=True, alarm_timers=alarm_timers, posix_armed=posix_armed,
                        libraries=self._libraries())

    def _timer_facts(self, events: Optional[Sequence[Event]], starts: Dict[int, int]
                     ) -> Optional[Dict[int, Tuple[Timer, ...]]]:
        """{pid: its known timers} for every process whose timers are all known (the hooks run
        in it); None when no hooks run in the tree."""
        if events is None:
            return None
        return timers.hook_facts(events, starts)

    def _private_listeners(self, now: Reading, socks: Set[int]) -> Dict[int, str]:
        """Listening sockets whose address only processes of the tree know: the forkserver's
        (its command line names the listener's fd)."""
        out: Dict[int, str] = {}
        if not socks:
            return out
        for pid in now.pids:
            m = _FORKSERVER_MAIN.search(" ".join(procfs.cmdline(pid)))
            if m is None:
                continue
            inode = sockets.socket_inode(procfs.fd_target(pid, int(m.group(1))) or "")
            if inode in socks:
                out[inode] = FORKSERVER_LISTENER
        return out

    def _libraries(self) -> Optional[Libraries]:
        if not self._asked:
            self._asked = True
            self.libraries = libpaths.of_process(self.root_pid)
        return self.libraries


def _exit_status(st: Optional[procfs.Stat]) -> Optional[int]:
    if st is None or st.state != "Z" or st.exit_code is None:
        return None
    status = st.exit_code
    return -(status & 0x7F) if status & 0x7F else (status >> 8) & 0xFF


def _replace(wait: Wait, **changes) -> Wait:
    return dataclasses.replace(wait, **changes)


def _fd_mode(pid: int, fd: int) -> Optional[Tuple[bool, bool]]:
    """(readable, writable) of an fd, from the permission bits of its /proc symlink."""
    try:
        mode = os.lstat(f"{procfs.PROC}/{pid}/fd/{fd}").st_mode
    except OSError:
        return None
    return bool(mode & stat_mod.S_IRUSR), bool(mode & stat_mod.S_IWUSR)


def _mapping_path(pid: int, key: str) -> str:
    text = procfs.read_text(f"{procfs.PROC}/{pid}/maps", 1 << 16) or ""
    for line in text.splitlines():
        m = procfs.parse_maps_line(line)
        if m is not None and f"{m.dev}:{m.inode}" == key:
            return m.path
    return ""


def with_stacks(snapshot: Snapshot, dumps: Dict[int, Dump]) -> Snapshot:
    """The same snapshot with each thread's Python stack and name filled in from py-spy."""
    processes = []
    for p in snapshot.processes:
        d = dumps.get(p.pid)
        if d is None:
            processes.append(p)
            continue
        by_tid = {t.os_tid: t for t in d.threads}
        threads = []
        for t in p.threads:
            py = by_tid.get(t.tid)
            if py is not None:
                t = dataclasses.replace(t, frames=py.frames, name=py.name or t.name,
                                        python_thread_id=py.thread_id)
            threads.append(t)
        processes.append(dataclasses.replace(
            p, threads=tuple(threads), stack_error=d.error or d.pyspy_error,
            stack_source=d.source if d.threads else ""))
    return dataclasses.replace(snapshot, processes=tuple(processes))


def save(snapshot: Snapshot, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(dump(snapshot), f, indent=1)
        f.write("\n")


def load_file(path: str) -> Snapshot:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        missing = [k for k in ("root_pid", "processes") if not isinstance(data, dict)
                   or k not in data]
        if missing:
            raise SnapshotError(
                f"{path!r} is not a snapshot saved by mpdoctor (it has no "
                f"{' or '.join(repr(k) for k in missing)}).",
                "Pass a file written by `mpdoctor check --save-snapshot` (a --json report "
                "is not a snapshot).")
        return checked_events(load(Snapshot, data))
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise SnapshotError(f"cannot read the snapshot {path!r}: {err}.",
                            "Pass a file written by `mpdoctor check --save-snapshot`.") from err


def checked_events(snapshot: Snapshot) -> Snapshot:
    """The snapshot with only the events that the event protocol allows (as the watchdog
    checks each datagram): a saved file may have been edited, and the rules trust every
    event's fields."""
    from mpdoctor.hooks import protocol

    kept = []
    for e in snapshot.events:
        try:
            if type(e.pid) is not int or type(e.at) not in (int, float):
                raise protocol.ProtocolError("bad pid or time")
            kept.append(Event(e.kind, e.pid, float(e.at), protocol.check(e.kind, e.data)))
        except protocol.ProtocolError:
            continue
    if len(kept) == len(snapshot.events):
        return dataclasses.replace(snapshot, events=tuple(kept))
    note = (f"{len(snapshot.events) - len(kept)} events of the hooks in this file do not follow "
            "the event protocol (docs/events.md) and were left out")
    return dataclasses.replace(snapshot, events=tuple(kept), notes=snapshot.notes + (note,))
