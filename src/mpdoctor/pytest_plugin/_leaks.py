"""Processes a test left running after its teardown: reported and stopped, unless something
that outlives the test owns them."""

from __future__ import annotations

import os
from typing import Any, Dict, Set, Tuple

import pytest

from mpdoctor.debug import log

from mpdoctor.observe import procfs
from mpdoctor.report import pytestreport
from mpdoctor.run import inprocess, owners, stopping
from mpdoctor.pytest_plugin._state import State

#: seconds a leaked process gets to end after SIGTERM before it is killed
LEAK_GRACE = 1.0


class MpdoctorLeakWarning(UserWarning):
    """A test left child processes running after its teardown (mpdoctor stopped them)."""


class LeakCheck(State):
    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any):
        """Processes a wider-scoped fixture starts live on after the test: not its leaks."""
        test = self.current
        if test is None or getattr(fixturedef, "scope", "function") == "function":
            yield
            return
        before = stopping.descendants(os.getpid())
        try:
            yield
        finally:
            after = stopping.descendants(os.getpid())
            self.fixture_owned.update((pid, start) for pid, start in after.items()
                                      if before.get(pid) != start)


    # -- leaks ---------------------------------------------------------------------------------
    def _leaks(self, test: Any, report: pytest.TestReport) -> int:
        policy = test.settings.leaks
        if policy == "ignore":
            return 0
        me = os.getpid()
        found = test.watch.new_processes()
        owned = self.fixture_owned
        leaked: Dict[int, int] = {}
        for pid, start in found.items():
            if _below(pid, owned, me) or inprocess.role_now(pid, me) in inprocess.SHARED_ROLES:
                continue
            leaked[pid] = start
        self.fixture_owned = {(p, s) for p, s in owned if stopping.alive(p, s)}
        # processes a live object owns (a pool, an executor, a manager...) are meant to
        # outlive the test, and so is everything below them
        persisting = owners.owned(leaked)
        keep = {(pid, leaked[pid]) for pid in persisting}
        leaked = {pid: start for pid, start in leaked.items()
                  if pid not in persisting and not _below(pid, keep, me)}
        log("plugin", f"{test.item.nodeid}: {len(found)} new processes after teardown, "
                      f"{len(persisting)} owned by live objects, {len(leaked)} leaked")
        if not leaked:
            return 0
        dumps = self._dumper.dump(sorted(leaked))
        details = [(pid, procfs.cmdline(pid), dumps.get(pid)) for pid in sorted(leaked)]
        facts = {pid: _facts(pid) for pid in leaked}
        stopped = stopping.stop(sorted(leaked.items()), grace=LEAK_GRACE)
        stopping.reap(leaked)
        text = "\n".join(pytestreport.leak_lines(details, stopped, facts))
        fail = policy == "fail"
        if not fail:
            try:
                test.item.warn(MpdoctorLeakWarning(text))
            except MpdoctorLeakWarning:
                fail = True  # warnings are errors here (-W error): an error it is
        if fail:
            if report.failed and report.longrepr is not None:
                report.sections.append(("mpdoctor: leaked processes", text))
            else:
                report.outcome = "failed"
                report.longrepr = text
        return len(leaked)


def _facts(pid: int) -> str:
    """How long a leaked process has run and how much memory it holds (psutil)."""
    import time

    import psutil
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            age = time.time() - p.create_time()
            rss = p.memory_info().rss
            status = p.status()
        return f"{status}, running for {age:.1f} s, {rss / 2**20:.0f} MiB resident"
    except (psutil.Error, OSError):
        return ""


def _below(pid: int, owners: Set[Tuple[int, int]], root: int) -> bool:
    """``pid`` is one of ``owners`` or a descendant of one (walking parents up to ``root``)."""
    owner_pids = {p for p, s in owners if stopping.alive(p, s)}
    seen = 0
    while pid and pid != root and seen < 64:
        if pid in owner_pids:
            return True
        st = procfs.stat(pid)
        if st is None:
            return False
        pid = st.ppid
        seen += 1
    return False


