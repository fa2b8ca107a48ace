"""Interrupting the test's main thread where it is stuck, inside the phases of the test only."""

from __future__ import annotations

import signal
import threading
from typing import Any, Optional

import pytest

from mpdoctor.debug import log

from mpdoctor.report import pytestreport
from mpdoctor.run.inprocess import Reached as Verdict
from mpdoctor.pytest_plugin._state import State


class MpdoctorInterrupt(BaseException):
    """Raised in the test's main thread when mpdoctor has proven that it can never move again
    (or the test passed its mpdoctor timeout).  A ``BaseException``, like ``KeyboardInterrupt``:
    ``except Exception`` in the code under test does not swallow it."""


def _free_signal() -> Optional[int]:
    """A real-time signal nobody handles: one unlikely to clash with the code under test."""
    low, high = getattr(signal, "SIGRTMIN", 0), getattr(signal, "SIGRTMAX", 0)
    for sig in range(high - 3, low + 2, -1):
        try:
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                return sig
        except (OSError, ValueError):
            continue
    return None


class Interrupts(State):
    def _deliver(self, verdict: Verdict) -> None:
        """From the watchdog thread: have the main thread raise where it is stuck."""
        test = self.current
        if test is None or test.signum is None:
            return
        if test.settings.ignore:  # warnings the user asked to leave out; never a deadlock
            from mpdoctor.diagnose import silence
            verdict.outcome.diagnosis, notes = silence(verdict.outcome.diagnosis,
                                                       test.settings.ignore)
            verdict.outcome.notes.extend(notes)
        log("plugin", f"{verdict.kind} in {test.item.nodeid} after {verdict.after:.2f} s: "
                      f"{', '.join(f.slug for f in verdict.diagnosis.findings) or 'no finding'}; "
                      "interrupting the main thread")
        test.unreported.append(verdict)
        signal.pthread_kill(threading.main_thread().ident, test.signum)  # type: ignore[arg-type]

    def _on_signal(self, signum: int, frame: Any) -> None:
        """In the main thread: raise for the verdict just delivered, but only inside a phase of
        the test (setup, call, teardown), where pytest turns any exception into the phase's
        report; elsewhere the next report carries the verdict without an interrupt."""
        test = self.current
        if test is None or test.phase is None:
            return
        fresh = [v for v in test.unreported if id(v) not in test.raised]
        if not fresh:
            return
        test.raised.add(id(fresh[0]))
        raise MpdoctorInterrupt(pytestreport.message(fresh[0], test.settings.timeout))

    def _phase(self, item: pytest.Item, when: str):
        test = self.current
        if test is None or test.item is not item:
            yield
            return
        test.phase = when
        try:
            yield
        finally:
            test.phase = None

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        yield from self._phase(item, "setup")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item):
        yield from self._phase(item, "call")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item):
        yield from self._phase(item, "teardown")

