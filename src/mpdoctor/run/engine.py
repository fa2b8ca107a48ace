"""The one conclusion path, for ``check``, ``attach`` and the pytest plugin alike:

    snapshot -> Python stacks -> proof and rules -> findings -> verdict

(the exit status follows from the outcome in one place too: ``mpdoctor.exitcodes.exit_code``).
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

from mpdoctor.diagnose import diagnose, diagnose_events
from mpdoctor.model import Diagnosis, Dump, Event, Snapshot, Verdict
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
    dumps = dumper.dump(pids)
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
    if feeding:
        snapshot = with_stacks(snapshot, dumper.dump(feeding, with_locals=True))
    diagnosis = diagnose(snapshot)
    return snapshot, diagnosis, Verdict.DEADLOCK if diagnosis.deadlock else unproven


def events_only(events: Sequence[Event]) -> Optional[Diagnosis]:
    """What the hooks' events alone say when the script ended by itself (a pickling error, a
    dropped item, a missing main guard); None when they say nothing."""
    findings = tuple(diagnose_events(events))
    return Diagnosis(False, (), findings, ()) if findings else None
