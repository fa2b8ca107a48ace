"""The one conclusion path, for ``check``, ``attach`` and the pytest plugin alike:

    snapshot -> Python stacks -> proof and rules -> findings -> verdict

(the exit status follows from the outcome in one place too: ``mpdoctor.exitcodes.exit_code``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mpdoctor.diagnose import diagnose, diagnose_crash, diagnose_events, reentered, registry
from mpdoctor.diagnose.crashes import needs_oom, with_oom
from mpdoctor.model import (Diagnosis, Dump, Event, OomFacts, Process, PyThread, Sample,
                            Snapshot, Verdict)
from mpdoctor.observe.pyspy import Dumper
from mpdoctor.observe.snapshot import with_stacks


def conclude(snapshot: Snapshot, dumper: Dumper, unproven: Optional[Verdict],
             own: Optional[Dump] = None) -> Tuple[Snapshot, Diagnosis, Optional[Verdict]]:
    """Add every live process's Python stack to the snapshot (py-spy in parallel; ``own``: the
    stacks of the watching process itself, which py-spy cannot read) and diagnose it.

    The verdict is ``DEADLOCK`` when the proof holds, else ``unproven`` (``TIMEOUT`` at a
    timeout; ``None``: no verdict, the watch goes on)."""
    pids = [p.pid for p in snapshot.processes if p.state != "Z"
            and (own is None or p.pid != own.pid)]
    like = alike(snapshot, pids) if len(pids) > BIG and not ALL_STACKS else {}
    first_at = time.monotonic()
    # the rules are loaded while py-spy reads the stacks, if not yet (``mpdoctor check``
    # loads them ahead of any verdict)
    dumps = dumper.dump([pid for pid in pids if pid not in like], meanwhile=registry.load)
    dumps.update(copied(snapshot, dumps, like))
    if own is not None:
        dumps[own.pid] = own
    if dumper.exe is None:
        snapshot = dataclasses.replace(snapshot, notes=snapshot.notes + (
            "py-spy was not found: no Python stacks, so no user code lines (install py-spy, a "
            "dependency of mpdoctor)",))
    snapshot = with_stacks(snapshot, dumps)
    # a queue feeder blocked in a write: read the put site and size of the item it is writing
    # from the hooks' frame on its stack (py-spy --locals, only for those processes)
    feeding = [p.pid for p in snapshot.processes
               if (own is None or p.pid != own.pid)
               and any(f.function.endswith("send_bytes_traced") for t in p.threads
                       for f in t.frames)]
    # a thread waiting for a lock that an outer frame of its own may hold: the local
    # variables tell which lock each frame has (diagnose/reentered.py)
    feeding += [pid for pid in reentered.candidates(snapshot) if pid not in feeding]
    if feeding:
        snapshot = with_stacks(snapshot, dumper.dump(feeding, with_locals=True))
    diagnosis = diagnose(snapshot)
    if unproven is Verdict.TIMEOUT and not diagnosis.deadlock and dumper.exe is not None:
        # nothing is proven: what do the threads that can still act keep doing?
        samples = sample(snapshot, dumper, diagnosis, first_at)
        if samples:
            snapshot = dataclasses.replace(snapshot, samples=samples)
            diagnosis = diagnose(snapshot)
    return snapshot, diagnosis, Verdict.DEADLOCK if diagnosis.deadlock else unproven


#: at a timeout, the stacks of the processes that can still act are read this many times in
#: all, this far apart (seconds): a loop that polls for ever shows the lines it circles
SAMPLES = 6
SAMPLE_EVERY = 0.2
#: at most this many processes are sampled (the first ones of the tree that can act)
SAMPLE_PROCESSES = 16


def sample(snapshot: Snapshot, dumper: Dumper, diagnosis: Diagnosis,
           first_at: float) -> Tuple[Sample, ...]:
    """The Python stacks of every thread of the processes that can still act, read
    ``SAMPLES`` times over about a second (the first reading is the snapshot's own)."""
    movers: List[int] = []
    for link in diagnosis.movable:
        p = snapshot.by_pid.get(link.pid)
        if p is not None and p.state != "Z" and p.stack_source == "py-spy" \
                and link.pid not in movers:
            movers.append(link.pid)
    movers = movers[:SAMPLE_PROCESSES]
    if not movers:
        return ()
    out: List[Sample] = [Sample(first_at, p.pid, t.tid, t.frames)
                         for pid in movers for p in (snapshot.by_pid[pid],)
                         for t in p.threads if t.frames]
    for _ in range(SAMPLES - 1):
        time.sleep(SAMPLE_EVERY)
        at = time.monotonic()
        for pid, d in sorted(dumper.dump(movers).items()):
            out.extend(Sample(at, pid, t.os_tid, t.frames, t.active) for t in d.threads)
    return tuple(out)


#: in a tree of more processes than this, processes that are alike (same command line, same
#: threads blocked in the same calls) get one py-spy dump for the group: 256 hung workers cost
#: a few dumps instead of 256 (12 ms each); MPDOCTOR_ALL_STACKS=1 dumps every one
BIG = 32
ALL_STACKS = os.environ.get("MPDOCTOR_ALL_STACKS", "") not in ("", "0")


def _signature(p: Process) -> tuple:
    return (p.cmdline, p.role, p.state, tuple(
        (t.tid == p.pid, t.state, t.wait.kind, t.wait.syscall, t.wait.fd, t.wait.count,
         t.wait.indefinite, t.wait.private, t.wait.target.split(":", 1)[0])
        for t in p.threads))


def alike(snapshot: Snapshot, pids: Sequence[int]) -> Dict[int, int]:
    """{pid: the representative it is like} for the processes whose stacks need not be read:
    the second and later members of each group of processes that are alike.  The root, and
    any process alone of its kind, are always read."""
    groups: Dict[tuple, int] = {}
    out: Dict[int, int] = {}
    wanted = set(pids)
    for p in snapshot.processes:
        if p.pid not in wanted or p.pid == snapshot.root_pid:
            continue
        key = _signature(p)
        rep = groups.setdefault(key, p.pid)
        if rep != p.pid:
            out[p.pid] = rep
    return out


def copied(snapshot: Snapshot, dumps: Dict[int, Dump], like: Dict[int, int]) -> Dict[int, Dump]:
    """The stacks of each look-alike, taken from its representative thread by thread (they
    have the same threads in the same calls), and labelled as such."""
    out: Dict[int, Dump] = {}
    for pid, rep in like.items():
        d = dumps.get(rep)
        me, them = snapshot.by_pid.get(pid), snapshot.by_pid.get(rep)
        if d is None or me is None or them is None or not d.threads:
            out[pid] = Dump(pid, error=f"not read: alike process {rep} was"
                            + (f" ({d.error})" if d is not None and d.error else ""))
            continue
        by_tid = {t.os_tid: t for t in d.threads}
        threads = []
        for mine, theirs in zip(me.threads, them.threads):
            py = by_tid.get(theirs.tid)
            if py is not None:
                threads.append(PyThread(mine.tid, py.name, None, py.frames))
        out[pid] = Dump(pid, threads, source=f"like process {rep}")
    return out


def events_only(events: Sequence[Event], failed: bool = False,
                oom: Optional[Callable[[], OomFacts]] = None) -> Optional[Diagnosis]:
    """What the hooks' events alone say when the script ended by itself (a pickling error, a
    dropped item, a missing main guard; and, when it ``failed``, what failed first in the
    tree, with what the kernel says of a SIGKILL: ``oom`` reads that, only when needed);
    None when they say nothing."""
    findings = list(diagnose_events(events))
    if failed:
        crash = diagnose_crash(events, findings)
        if oom is not None and needs_oom(crash):
            crash = with_oom(crash, oom())
        findings.extend(crash)
    return Diagnosis(False, (), tuple(findings), ()) if findings else None
