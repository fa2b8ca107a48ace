"""Rendering of a run's outcome: rich console text and JSON.  No logic, no printing here
except in ``print_report``; the CLI decides where things go."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional, Tuple

if TYPE_CHECKING:
    from mpdoctor.model import Diagnosis, EventCounts, Outcome, Snapshot


@dataclass
class Report:
    """Everything a renderer needs, in one place."""

    verdict: str  # "ok" | "failed" | "deadlock" | "timeout"
    exit_code: int  # mpdoctor's own exit status
    command: Tuple[str, ...] = ()
    status: Optional[int] = None  # the script's exit code; -N when killed by signal N
    diagnosis: Optional["Diagnosis"] = None
    snapshot: Optional["Snapshot"] = None
    duration: float = 0.0
    proof_seconds: float = 0.0
    timeout: Optional[float] = None
    notes: List[str] = field(default_factory=list)
    stopped: int = 0
    #: what the hooks' event receiver did with what it was sent (None: no hooks)
    events: Optional["EventCounts"] = None

    @classmethod
    def of(cls, outcome: "Outcome", exit_code: int, command: Tuple[str, ...] = (),
           timeout: Optional[float] = None) -> "Report":
        """The report of a watch's outcome."""
        # after a deadlock or a timeout mpdoctor stopped the script: it did not end by itself,
        # and the signal mpdoctor sent is not its status (docs/json.md: null)
        status = None if outcome.verdict.value in ("deadlock", "timeout") else outcome.status
        return cls(verdict=outcome.verdict.value, exit_code=exit_code, command=command,
                   status=status, diagnosis=outcome.diagnosis,
                   snapshot=outcome.snapshot, duration=outcome.duration,
                   proof_seconds=outcome.proof_seconds, timeout=timeout,
                   notes=list(outcome.notes), stopped=outcome.stopped,
                   events=outcome.event_counts)

    @property
    def findings(self):
        return self.diagnosis.findings if self.diagnosis else ()

    @property
    def silent(self) -> bool:
        """A clean run: exit 0, nothing found, nothing to note.  Nothing is printed for it."""
        return (self.verdict == "ok" and not self.findings and not self.notes
                and not (self.snapshot is not None and self.snapshot.notes))


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def status_text(status: Optional[int]) -> str:
    if status is None:
        return "did not end by itself"
    if status < 0:
        return f"was killed by {signal_name(-status)} (exit status {128 - status})"
    return f"exited with status {status}"
