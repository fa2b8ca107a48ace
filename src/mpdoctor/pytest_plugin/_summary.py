"""The session summary: tests watched, deadlocks, timeouts, leaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

import pytest
from mpdoctor.pytest_plugin._state import State


@dataclass
class _Counts:
    watched: int = 0
    deadlocks: List[Tuple[str, List[str]]] = field(default_factory=list)
    timeouts: List[str] = field(default_factory=list)
    leaks: int = 0
    leaky_tests: List[str] = field(default_factory=list)
    annotations: List[str] = field(default_factory=list)  # GitHub Actions workflow commands


class Summary(State):
    # -- the session summary -------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        info = getattr(report, "mpdoctor", None)
        if not isinstance(info, dict):
            return
        c = self.counts
        if info.get("watched"):
            c.watched += 1
        if info.get("verdict") == "deadlock":
            c.deadlocks.append((report.nodeid, list(info.get("slugs") or [])))
        elif info.get("verdict") == "timeout":
            c.timeouts.append(report.nodeid)
        if info.get("leaks"):
            c.leaks += int(info["leaks"])
            c.leaky_tests.append(report.nodeid)
        c.annotations.extend(str(line) for line in info.get("github") or ())

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        c = self.counts
        if not (c.watched or c.deadlocks or c.timeouts or c.leaks):
            return
        tr = terminalreporter
        tr.write_sep("-", "mpdoctor")
        for nodeid, slugs in c.deadlocks:
            tr.write_line(f"DEADLOCK {nodeid} [{', '.join(slugs) or 'unexplained'}]")
        for nodeid in c.timeouts:
            tr.write_line(f"TIMEOUT {nodeid} (no deadlock proven)")
        for nodeid in c.leaky_tests:
            tr.write_line(f"LEAKED PROCESSES {nodeid}")
        tr.write_line(_plural(c.watched, "test") + " watched; "
                      + _plural(len(c.deadlocks), "deadlock") + " proven; "
                      + _plural(len(c.timeouts), "timeout") + "; "
                      + _plural(c.leaks, "leaked process", "leaked processes") + " stopped")
        for line in c.annotations:
            tr.write_line(line)
        if self.receiver is not None:
            from mpdoctor.run.events import note
            ignored = note(self.receiver.counts())
            if ignored:
                tr.write_line(f"note: {ignored}")


def _plural(n: int, one: str, many: Optional[str] = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"
