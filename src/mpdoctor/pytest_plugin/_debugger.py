"""Debuggers: mpdoctor never interrupts a test someone is debugging."""

from __future__ import annotations

import inspect
import sys
import threading
from typing import Any, Callable, Optional

import pytest
from mpdoctor.pytest_plugin._state import State


#: modules whose trace functions mean a debugger is attached (as pytest-timeout)
KNOWN_DEBUGGERS = ("pydevd", "bdb", "pydevd_frame_evaluator")


def is_debugging(trace_func: Optional[Callable] = None) -> bool:
    """A debugger is attached to this thread (pdb and other bdb-based ones, pydevd) or to the
    interpreter (a ``sys.monitoring`` debugger, Python 3.12+)."""
    if trace_func is None:
        trace_func = sys.gettrace()
    if _debugger_function(trace_func):
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and monitoring.get_tool(monitoring.DEBUGGER_ID) is not None


def _debugger_function(func: Any) -> bool:
    if not func:
        return False
    module = inspect.getmodule(func) or inspect.getmodule(func.__class__)
    if module is None:
        return False
    parts = module.__name__.split(".")
    return any(part.startswith(name) for part in parts for name in KNOWN_DEBUGGERS)


def _main_thread_traced() -> bool:
    """A debugger traces a frame of the main thread (seen from another thread: bdb and pydevd
    set ``f_trace`` on the frames they trace)."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        if _debugger_function(frame.f_trace):
            return True
        frame = frame.f_back
    return False


class DebuggerHooks(State):
    def _may_act(self) -> bool:
        test = self.current
        if test is None or test.debugging:
            return False
        if _main_thread_traced():
            return False
        monitoring = getattr(sys, "monitoring", None)
        return monitoring is None or monitoring.get_tool(monitoring.DEBUGGER_ID) is None


    # -- debuggers -----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_enter_pdb(self) -> None:
        self._debugger()

    @pytest.hookimpl(tryfirst=True)
    def pytest_exception_interact(self) -> None:
        self._debugger()

    def _debugger(self) -> None:
        test = self.current
        if test is not None:
            test.debugging = True
            test.watch.stop()

