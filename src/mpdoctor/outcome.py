"""How a watch ended: the verdict and the outcome, the one result of ``check``, ``attach`` and the
pytest plugin.  A module of its own, light to import: the supervisor needs it at the end of every
run, also of a script that ends in a millisecond (the rest of the model loads only when there is
something to diagnose)."""

from __future__ import annotations

import enum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional

    from mpdoctor.model import Diagnosis, Event, Snapshot


class EventCounts:
    """What the watchdog did with the datagrams sent to its event socket (docs/json.md).  A
    plain class: every run ends by reading it, and the model's dataclasses cost more to import
    than a short script takes to run."""

    __slots__ = ("received", "accepted", "rejected", "lost", "kept_bytes")

    def __init__(self, received: int = 0, accepted: int = 0,
                 rejected: Optional[Dict[str, int]] = None, lost: int = 0,
                 kept_bytes: int = 0) -> None:
        self.received = received  # datagrams read
        #: taken in as events (a timer's latest report replaces the one before)
        self.accepted = accepted
        #: datagrams not kept, by reason: foreign, gone, invalid, oversized, over_budget
        self.rejected: Dict[str, int] = dict(rejected or {})
        #: events the hooks could not send (their count rides on a later event)
        self.lost = lost
        #: what the kept events are charged against the memory budget
        self.kept_bytes = kept_bytes

    def asdict(self) -> Dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EventCounts) and self.asdict() == other.asdict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "EventCounts(%s)" % ", ".join(f"{k}={v!r}" for k, v in self.asdict().items())


class Verdict(str, enum.Enum):
    """How a watch ended (the JSON report's ``"verdict"``)."""

    OK = "ok"  # the script exited 0
    FAILED = "failed"  # it exited non-zero or was killed by a signal
    DEADLOCK = "deadlock"  # a stuck state was proven
    TIMEOUT = "timeout"  # the timeout was reached and nothing was proven
    EXITED = "exited"  # attach only: the process ended while it was watched

    @staticmethod
    def ended(status: Optional[int]) -> "Verdict":
        """The verdict of a script that ended by itself."""
        return Verdict.OK if status == 0 else Verdict.FAILED


class Outcome:
    """The one result of a watch, whichever started it (check, attach, the pytest plugin).

    A plain class rather than a dataclass: ``dataclasses`` costs more to import than a short
    script takes to run."""

    def __init__(self, verdict: Verdict, status: Optional[int] = None,
                 diagnosis: Optional["Diagnosis"] = None, snapshot: Optional["Snapshot"] = None,
                 started_at: float = 0.0, duration: float = 0.0, proof_seconds: float = 0.0,
                 notes: Optional[List[str]] = None, stopped: int = 0,
                 events: Optional[List["Event"]] = None,
                 event_counts: Optional["EventCounts"] = None) -> None:
        self.verdict = verdict
        self.status = status  # the script's exit code; -N if killed by signal N
        self.diagnosis = diagnosis
        self.snapshot = snapshot
        self.started_at = started_at  # time.time()
        #: seconds from the start of the watch to its end or the verdict
        self.duration = duration
        self.proof_seconds = proof_seconds  # time spent collecting stacks and diagnosing
        self.notes: List[str] = notes if notes is not None else []
        self.stopped = stopped  # processes of the tree mpdoctor had to stop
        #: what the in-process hooks reported
        self.events: List["Event"] = events if events is not None else []
        #: what the event receiver did with what it was sent (None without hooks)
        self.event_counts = event_counts

    def __repr__(self) -> str:
        return (f"Outcome({self.verdict.value}, status={self.status}, "
                f"findings={len(self.diagnosis.findings) if self.diagnosis else 0})")
