"""The pytest plugin (entry point ``pytest11: mpdoctor``): a test that deadlocks fails within
about a second with the diagnosis, the session goes on, and no process of the test survives it.

Off by default; on with ``--mpdoctor``, ``MPDOCTOR=1``, ini ``mpdoctor = true``, or per test with
``@pytest.mark.mpdoctor``.  Settings: :mod:`mpdoctor.pytest_settings`.

While a watched test runs (setup, call and teardown), a watchdog thread inside pytest watches
pytest's process and its descendants with the engine of ``mpdoctor check``
(:class:`mpdoctor.run.inprocess.InProcessWatch`).  When the main thread, which runs the test, is
proven stuck:

1. the diagnosis is taken (py-spy for the children, ``sys._current_frames()`` for pytest);
2. the main thread is interrupted: a real-time signal sent to it with ``pthread_kill`` runs a
   handler, installed for the test's duration only, that raises :class:`MpdoctorInterrupt`
   there (this also frees a main thread blocked with no child to kill, e.g. in ``q.get()``);
3. the stuck processes the test started are killed;
4. the report of the phase that was interrupted becomes the diagnosis: its one-line message
   (short summary, JUnit ``message``) carries the slug, the full report is its long
   representation.

After the teardown, child processes the test started that still run are reported with their
stacks (a warning, or an error with ``--mpdoctor-leaks=fail``) and stopped.  With pytest-timeout,
its stack dump gains the children's stacks and the children are stopped
(:meth:`Plugin.timeout_fired`).  Under pytest-xdist every worker watches its own tests; the
report, with the diagnosis, travels to the controller like any other.
"""

from __future__ import annotations

import inspect
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pytest

from mpdoctor import pytest_settings
from mpdoctor.observe import ownthreads, procfs
from mpdoctor.observe.pyspy import Dumper
from mpdoctor.pytest_settings import Settings
from mpdoctor.report import github, pytestreport
from mpdoctor.run import inprocess, owners, stopping
from mpdoctor.run.events import Receiver
from mpdoctor.run.inprocess import InProcessWatch, Verdict

SETTINGS_KEY = pytest.StashKey[Settings]()
MARKER_ERROR_KEY = pytest.StashKey[str]()

#: seconds a leaked process gets to end after SIGTERM before it is killed
LEAK_GRACE = 1.0

#: modules whose trace functions mean a debugger is attached (as pytest-timeout)
KNOWN_DEBUGGERS = ("pydevd", "bdb", "pydevd_frame_evaluator")


class MpdoctorInterrupt(BaseException):
    """Raised in the test's main thread when mpdoctor has proven that it can never move again
    (or the test passed its mpdoctor timeout).  A ``BaseException``, like ``KeyboardInterrupt``:
    ``except Exception`` in the code under test does not swallow it."""


class MpdoctorLeakWarning(UserWarning):
    """A test left child processes running after its teardown (mpdoctor stopped them)."""


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


def _supported() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self/task")


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


@dataclass
class _Counts:
    watched: int = 0
    deadlocks: List[Tuple[str, List[str]]] = field(default_factory=list)
    timeouts: List[str] = field(default_factory=list)
    leaks: int = 0
    leaky_tests: List[str] = field(default_factory=list)
    annotations: List[str] = field(default_factory=list)  # GitHub Actions workflow commands


class Plugin:
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
                                debug=bool(os.environ.get("MPDOCTOR_DEBUG")))
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

    def _may_act(self) -> bool:
        test = self.current
        if test is None or test.debugging:
            return False
        if _main_thread_traced():
            return False
        monitoring = getattr(sys, "monitoring", None)
        return monitoring is None or monitoring.get_tool(monitoring.DEBUGGER_ID) is None

    def _deliver(self, verdict: Verdict) -> None:
        """From the watchdog thread: have the main thread raise where it is stuck."""
        test = self.current
        if test is None or test.signum is None:
            return
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

    @staticmethod
    def _fail(report: pytest.TestReport, call: pytest.CallInfo, verdict: Verdict,
              timeout: Optional[float]) -> None:
        from _pytest._code.code import (ReprExceptionInfo, ReprFileLocation,
                                        ReprTracebackNative)

        lines = pytestreport.verdict_lines(verdict, timeout)
        where = pytestreport.location(verdict)
        path, lineno = where if where is not None else (report.location[0],
                                                        (report.location[1] or 0) + 1)
        longrepr = ReprExceptionInfo(
            reprtraceback=ReprTracebackNative([line + "\n" for line in lines]),
            reprcrash=ReprFileLocation(path, lineno,
                                       pytestreport.message(verdict, timeout)))
        own = call.excinfo is not None and not isinstance(call.excinfo.value, MpdoctorInterrupt)
        if report.failed and report.longrepr is not None and own:
            # the phase failed with an exception of its own (raised while unwinding from the
            # interrupt, or before it): keep it
            longrepr.addsection("the test's own failure", str(report.longrepr))
        report.outcome = "failed"
        report.longrepr = longrepr

    def _html(self, item: pytest.Item, verdict: Verdict, timeout: Optional[float],
              report: pytest.TestReport) -> Optional[str]:
        """With ``--mpdoctor-html DIR``: the test's page, named in its failure report."""
        directory = pytest_settings.html_dir(self.config)
        if directory is None:
            return None
        from _pytest._code.code import ReprExceptionInfo

        from mpdoctor.report import html
        try:
            path = html.write_for_test(directory, item.nodeid, verdict, timeout)
        except OSError as err:
            item.warn(pytest.PytestWarning(f"mpdoctor: could not write the HTML report into "
                                           f"{directory}: {err}"))
            return None
        if isinstance(report.longrepr, ReprExceptionInfo):
            report.longrepr.addsection("mpdoctor: HTML report", path)
        return path

    # -- leaks ---------------------------------------------------------------------------------
    def _leaks(self, test: _Test, report: pytest.TestReport) -> int:
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
        if not leaked:
            return 0
        dumps = self._dumper.dump(sorted(leaked))
        details = [(pid, procfs.cmdline(pid), dumps.get(pid)) for pid in sorted(leaked)]
        stopped = stopping.stop(sorted(leaked.items()), grace=LEAK_GRACE)
        stopping.reap(leaked)
        text = "\n".join(pytestreport.leak_lines(details, stopped))
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

    def stop_hooks(self) -> None:
        receiver, self.receiver = self.receiver, None
        if receiver is None:
            return
        from mpdoctor.run.events import ENV
        if os.environ.get(ENV) == receiver.env().get(ENV):
            del os.environ[ENV]
        receiver.close()
        inprocess.HELPERS.discard(receiver.native_id or 0)

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


_NOSTAT = procfs.Stat(0, "", "?", 0, 0, 0, 0, 0)


def _plural(n: int, one: str, many: Optional[str] = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


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


# --------------------------------------------------------------------------------------------
# module-level hooks: options, and the plugin object for the session

PLUGIN_NAME = "mpdoctor-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    pytest_settings.addoption(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", pytest_settings.MARKER_HELP)
    settings = pytest_settings.from_config(config)
    if settings.enabled and not _supported():
        raise pytest.UsageError(
            f"mpdoctor: it needs Linux and its /proc file system; this system is "
            f"{sys.platform!r}. Run the tests without --mpdoctor here, or on Linux.")
    plugin = Plugin(config, settings)
    config.pluginmanager.register(plugin, PLUGIN_NAME)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A bad marker value found by an xdist worker: an error of its test, with the message."""
    error = item.stash.get(MARKER_ERROR_KEY, None)
    if error is not None:
        pytest.fail(error, pytrace=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is not None:
        plugin.unwrap_pytest_timeout()
        plugin.untrack_faulthandler()
        plugin.stop_hooks()
        config.pluginmanager.unregister(plugin, PLUGIN_NAME)


__all__ = ["MpdoctorInterrupt", "MpdoctorLeakWarning", "is_debugging"]
