"""Rendering of a run's outcome: rich console text and JSON.  No logic, no printing here
except in ``print_report``; the CLI decides where things go."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

    from mpdoctor.model import Diagnosis, Outcome, Snapshot
    from mpdoctor.outcome import EventCounts


class Report:
    """Everything a renderer needs, in one place.  A plain class: every run ends by building
    one, and ``dataclasses`` costs more to import than a short script takes to run."""

    def __init__(self, verdict: str, exit_code: int, command: Tuple[str, ...] = (),
                 status: Optional[int] = None, diagnosis: Optional["Diagnosis"] = None,
                 snapshot: Optional["Snapshot"] = None, duration: float = 0.0,
                 proof_seconds: float = 0.0, timeout: Optional[float] = None,
                 notes: Optional[List[str]] = None, stopped: int = 0,
                 events: Optional["EventCounts"] = None) -> None:
        self.verdict = verdict  # "ok" | "failed" | "deadlock" | "timeout"
        self.exit_code = exit_code  # mpdoctor's own exit status
        self.command = command
        self.status = status  # the script's exit code; -N when killed by signal N
        self.diagnosis = diagnosis
        self.snapshot = snapshot
        self.duration = duration
        self.proof_seconds = proof_seconds
        self.timeout = timeout
        self.notes: List[str] = list(notes) if notes is not None else []
        self.stopped = stopped
        #: what the hooks' event receiver did with what it was sent (None: no hooks)
        self.events = events

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
    import signal  # (its enums cost more to build than a clean run's whole report step)
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
