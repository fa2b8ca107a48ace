"""The plugin object of a session: the watch around each test, and the concerns it is made of."""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pytest

from mpdoctor import pytest_settings
from mpdoctor import debug
from mpdoctor.observe import ownthreads
from mpdoctor.observe.pyspy import Dumper
from mpdoctor.pytest_settings import Settings
from mpdoctor.report import github
from mpdoctor.run import inprocess, stopping
from mpdoctor.run.events import Receiver
from mpdoctor.run.inprocess import InProcessWatch, Reached as Verdict
from mpdoctor.pytest_plugin._debugger import DebuggerHooks, is_debugging
from mpdoctor.pytest_plugin._failure import Failures
from mpdoctor.pytest_plugin._interrupt import Interrupts, _free_signal
from mpdoctor.pytest_plugin._leaks import LeakCheck
from mpdoctor.pytest_plugin._summary import Summary, _Counts
from mpdoctor.pytest_plugin._timeout import TimeoutBridge


SETTINGS_KEY = pytest.StashKey[Settings]()
MARKER_ERROR_KEY = pytest.StashKey[str]()


def _supported() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self/task")


@dataclass
class _Test:
    """What the plugin knows about the test being watched."""

    item: pytest.Item
    settings: Settings
    watch: InProcessWatch
    signum: Optional[int] = None
    previous_handler: Any = None
    phase: Optional[str] = None  # the phase running in the main thread, if any
    unreported: List[Verdict] = field(default_factory=list)  # reached, not yet on a report
    raised: Set[int] = field(default_factory=set)  # ids of verdicts already raised
    debugging: bool = False


class Plugin(Interrupts, Failures, LeakCheck, DebuggerHooks, TimeoutBridge, Summary):
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.current: Optional[_Test] = None
        self.counts = _Counts()
        #: processes started by fixtures wider than a function: theirs to stop, not the test's
        self.fixture_owned: Set[Tuple[int, int]] = set()
        self._timeout_original: Optional[Callable] = None
        self.untrack_faulthandler: Callable[[], None] = lambda: None
        self._wrapped = False
        self._dumper = Dumper()
        #: pipes pytest had when the session started (stdio, xdist's channel): the outside
        self.session_pipes = inprocess.own_pipes()
        #: the hooks' event receiver, from the first watched test on (see _start_hooks)
        self.receiver: Optional[Receiver] = None

    # -- settings ------------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: List[pytest.Item]) -> None:
        """Every test's settings, checked once, before any test runs: a bad marker value is a
        usage error that names the test."""
        worker = hasattr(self.config, "workerinput")
        for item in items:
            try:
                item.stash[SETTINGS_KEY] = pytest_settings.for_item(item, self.settings)
            except pytest.UsageError as err:
                if not worker:
                    raise
                # a pytest-xdist worker cannot end the session with a usage error (the
                # controller takes it for a crash): the test errors with the message instead
                item.stash[MARKER_ERROR_KEY] = str(err)
                item.stash[SETTINGS_KEY] = Settings()

    def _settings(self, item: pytest.Item) -> Settings:
        found = item.stash.get(SETTINGS_KEY, None)
        return found if found is not None else pytest_settings.for_item(item, self.settings)

    # -- the watch around each test ------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Optional[pytest.Item]):
        settings = self._settings(item)
        test = None
        if settings.enabled and _supported() and not is_debugging() \
                and threading.current_thread() is threading.main_thread():
            test = self._start(item, settings)
        try:
            yield
        finally:
            if test is not None:
                self._finish(test)

    def _start(self, item: pytest.Item, settings: Settings) -> Optional[_Test]:
        signum = _free_signal()
        if signum is None:
            return None
        if not self._wrapped:
            # patched at the first watched test, not before: a session that watches nothing
            # runs with pytest-timeout and faulthandler untouched
            self._wrapped = True
            self.wrap_pytest_timeout()
            self.untrack_faulthandler = ownthreads.track_faulthandler()
            self._start_hooks()
        receiver = self.receiver
        watch = InProcessWatch(on_verdict=self._deliver, timeout=settings.timeout,
                               may_act=self._may_act, dumper=self._dumper,
                               name=f"mpdoctor watchdog ({item.nodeid})",
                               outside=self.session_pipes,
                               events=receiver.snapshot if receiver is not None else None,
                               locks=receiver.held_locks if receiver is not None else None,
                               own_threads=lambda: inprocess.HELPERS)
        test = _Test(item, settings, watch, signum)
        test.previous_handler = signal.signal(signum, self._on_signal)
        self.current = test
        watch.start()
        return test

    def _start_hooks(self) -> None:
        """mpdoctor's hooks, as under ``mpdoctor check``: in pytest's own process (so that
        forked children have them too) and, through the environment, in every Python process
        a test starts.  They report the timers each process arms (a wait a timer will end is
        no deadlock), pickling errors and the rest; the receiver runs for the session."""
        try:
            from mpdoctor.hooks import boot
            from mpdoctor.run.events import ENV

            from mpdoctor.run.members import Membership

            # heard: this process (its hooks run here too) and every process below it
            receiver = Receiver(Membership(os.getpid(), include_anchor=True),
                                debug=debug.on("hooks"))
        except OSError:
            return  # no unix sockets here: watch without hooks
        env = receiver.env()
        os.environ.update(env)
        if receiver.native_id is not None:
            inprocess.HELPERS.add(receiver.native_id)
        inprocess.register_fork_hooks()
        boot.start_from(boot.decode(env[ENV]))
        self.receiver = receiver

    def _finish(self, test: _Test) -> None:
        test.watch.stop()
        if test.signum is not None:
            signal.signal(test.signum, test.previous_handler
                          if test.previous_handler is not None else signal.SIG_DFL)
            test.signum = None
        if self.current is test:
            self.current = None


    # -- reports -------------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        test = self.current
        if test is None or test.item is not item:
            return
        report = outcome.get_result()
        if call.when == "teardown":
            self._finish_watch(test)
        info: Dict[str, Any] = {}
        if test.unreported:
            # the verdict whose interrupt ended this phase, or one that could not be raised (the
            # main thread was between phases, or the test swallowed the interrupt): either
            # way this report is the first that can carry it
            verdict = test.unreported.pop(0)
            verdict.done.wait(10.0)  # its processes are stopped before the report is made
            self._fail(report, call, verdict, test.settings.timeout)
            page = self._html(item, verdict, test.settings.timeout, report)
            if page:
                info["html"] = page
            annotations = github.lines(verdict.diagnosis.findings)
            if annotations:
                info["github"] = annotations  # printed by the controller, in the summary
            info.update(verdict=verdict.kind, seconds=round(verdict.after, 3),
                        slugs=[f.slug for f in verdict.diagnosis.findings],
                        stopped=len(verdict.stopped))
        if call.when == "teardown":
            info["watched"] = True
            leaked = self._leaks(test, report)
            if leaked:
                info["leaks"] = leaked
        if info:
            # travels with xdist's reports to the controller
            report.mpdoctor = info  # type: ignore[attr-defined]

    def _finish_watch(self, test: _Test) -> None:
        test.watch.stop()
        # the processes a verdict killed are zombies until their parent (this process, for the
        # test's direct children) collects them: do it now, so nothing of them outlives the test
        stopping.reap(pid for v in test.watch.verdicts for pid in v.stopped)
        if test.watch.error is not None:
            err = test.watch.error
            test.item.warn(pytest.PytestWarning(
                f"mpdoctor: the watchdog failed ({type(err).__name__}: {err}); this test was "
                "not watched to its end."))


    def stop_hooks(self) -> None:
        receiver, self.receiver = self.receiver, None
        if receiver is None:
            return
        from mpdoctor.run.events import ENV
        if os.environ.get(ENV) == receiver.env().get(ENV):
            del os.environ[ENV]
        receiver.close()
        inprocess.HELPERS.discard(receiver.native_id or 0)

