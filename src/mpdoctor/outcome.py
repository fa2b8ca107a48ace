"""How a watch ended: the verdict and the outcome, the one result of ``check``, ``attach`` and the
pytest plugin.  A module of its own, light to import: the supervisor needs it at the end of every
run, also of a script that ends in a millisecond (the rest of the model loads only when there is
something to diagnose)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional

if TYPE_CHECKING:
    from mpdoctor.model import Diagnosis, Event, Snapshot


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


@dataclass
class Outcome:
    """The one result of a watch, whichever started it (check, attach, the pytest plugin)."""

    verdict: Verdict
    status: Optional[int] = None  # the script's exit code; -N if killed by signal N
    diagnosis: Optional[Diagnosis] = None
    snapshot: Optional[Snapshot] = None
    started_at: float = 0.0  # time.time()
    duration: float = 0.0  # seconds from the start of the watch to its end or the verdict
    proof_seconds: float = 0.0  # time spent collecting stacks and diagnosing
    notes: List[str] = field(default_factory=list)
    stopped: int = 0  # processes of the tree mpdoctor had to stop
    events: List[Event] = field(default_factory=list)  # what the in-process hooks reported
