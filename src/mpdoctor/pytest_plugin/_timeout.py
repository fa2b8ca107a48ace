"""pytest-timeout: its stack dump gains every child's stack, and the children are stopped."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any


from mpdoctor.observe import procfs
from mpdoctor.report import pytestreport
from mpdoctor.run import inprocess, stopping
from mpdoctor.pytest_plugin._state import State
from mpdoctor.pytest_plugin._summary import _plural

_NOSTAT = procfs.Stat(0, "", "?", 0, 0, 0, 0, 0)


class TimeoutBridge(State):
    # -- pytest-timeout ------------------------------------------------------------------------
    def wrap_pytest_timeout(self) -> None:
        """pytest-timeout dumps the stacks of pytest's threads through its module-level
        ``dump_stacks(terminal)``, from both of its methods, after its own debugger check:
        wrapping that one function adds the children's stacks and stops them, and changes
        nothing else (the ``signal`` method still fails the test, the ``thread`` method still
        ends the process)."""
        module = sys.modules.get("pytest_timeout")
        original = getattr(module, "dump_stacks", None)
        if original is None or getattr(original, "_mpdoctor", False):
            return

        def dump_stacks(terminal: Any) -> None:
            test = self.current
            if test is not None:
                test.watch.stop()  # first, so that its thread is not in the dump
            original(terminal)
            self.timeout_fired(terminal)

        dump_stacks._mpdoctor = True  # type: ignore[attr-defined]
        dump_stacks.__wrapped__ = original  # type: ignore[attr-defined]
        module.dump_stacks = dump_stacks  # type: ignore[union-attr]
        self._timeout_original = original

    def unwrap_pytest_timeout(self) -> None:
        module = sys.modules.get("pytest_timeout")
        if module is not None and self._timeout_original is not None:
            module.dump_stacks = self._timeout_original  # type: ignore[attr-defined]
        self._timeout_original = None

    def timeout_fired(self, terminal: Any) -> None:
        """pytest-timeout's timer fired on a watched test: show every descendant's stacks, then
        stop them.  From its ``thread`` method (another thread; the process ends right after)
        every descendant goes; from its ``signal`` method (main thread; the session goes on)
        those the test started."""
        test = self.current
        if test is None:
            return
        try:
            test.watch.stop()
            me = os.getpid()
            exiting = threading.current_thread() is not threading.main_thread()
            everyone = stopping.descendants(me)
            dumps = self._dumper.dump(sorted(everyone))
            terminal.sep("~", title="mpdoctor: stacks of "
                         + _plural(len(everyone), "child process", "child processes"))
            for pid in sorted(everyone):
                label = f"process {pid} (parent {(procfs.stat(pid) or _NOSTAT).ppid}): " \
                        f"{pytestreport.command(procfs.cmdline(pid))}"
                for line in pytestreport.process_lines(pid, label, dumps.get(pid)):
                    terminal.line(line)
            targets = [(pid, start) for pid, start in sorted(everyone.items())
                       if (exiting or test.watch.is_new(pid, start))
                       and inprocess.role_now(pid, me) not in inprocess.SHARED_ROLES]
            stopped = stopping.stop(targets, grace=0)
            if not exiting:
                stopping.reap(pid for pid, _ in targets)
            terminal.line(f"mpdoctor stopped {len(stopped)} of them"
                          + (" (pytest-timeout ends this process now)" if exiting else "") + ".")
        except Exception as exc:  # noqa: BLE001 - never break pytest-timeout's own report
            terminal.line(f"mpdoctor: could not add the child processes: {exc}")

