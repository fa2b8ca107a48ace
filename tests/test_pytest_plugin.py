"""The pytest plugin, end to end: inner pytest sessions run in subprocesses (``pytester``).

Every inner session runs with a unique marker in its environment; once it has ended, no process
carrying that marker may remain (any that does is killed by pid and fails the test)."""

from __future__ import annotations

import os
import sys
import uuid
import xml.etree.ElementTree as ET
from typing import List

import psutil
import pytest

from mpdoctor import pytest_plugin, pytest_settings

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.e2e

TAG = "MPDOCTOR_PLUGIN_TEST_SESSION"

#: the acceptance suite: the seed deadlock, a get() nobody can answer, and a test that passes
SUITE = """
import multiprocessing


def put_one(q):
    q.put(["hello", 20000 * "ss"])


def test_seed_deadlock():
    q = multiprocessing.Queue()
    children = [multiprocessing.Process(target=put_one, args=(q,)) for _ in range(10)]
    for p in children:
        p.start()
    for p in children:
        p.join()
    [q.get() for _ in children]


def test_get_without_producer():
    q = multiprocessing.Queue()
    q.get()


def test_passes():
    assert sum(range(10)) == 45
"""

#: records each test's teardown, to show that teardown still runs after an interrupt
CONFTEST = """
import pytest


@pytest.fixture(autouse=True)
def _record_teardown(request):
    yield
    with open(request.config.rootpath / "teardown.log", "a") as f:
        f.write(request.node.name + "\\n")
"""

#: a child that sleeps (so nothing can be proven), after a handshake
SLEEPER = """
import multiprocessing
import time


def sleeper(ready, q):
    ready.set()
    time.sleep(1000)
    q.put("never")


def start_sleeper():
    ready = multiprocessing.Event()
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=sleeper, args=(ready, q))
    p.start()
    assert ready.wait(60), "the child did not start"
    return p, q
"""


def tagged(tag: str) -> List[psutil.Process]:
    """Live processes whose environment carries ``tag`` (this process excluded)."""
    out = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(TAG) == tag and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except (psutil.Error, OSError):
            continue
    return out


@pytest.fixture
def run(pytester, monkeypatch):
    """Run an inner pytest session in a subprocess; afterwards nothing of it may remain."""
    for name in (pytest_settings.ENV_ENABLE, pytest_settings.ENV_TIMEOUT,
                 pytest_settings.ENV_LEAKS, "PYTEST_ADDOPTS", "PYTEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)

    def go(*args: str, env: dict = None, stdin=None) -> pytest.RunResult:
        tag = uuid.uuid4().hex
        monkeypatch.setenv(TAG, tag)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        try:
            if stdin is None:
                result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args,
                                                       timeout=120)
            else:  # the same, with the given stdin
                result = pytester.run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                                      *args, stdin=stdin, timeout=120)
        finally:
            for name in env or {}:
                monkeypatch.delenv(name)
            # processes that were just killed may still be on their way out: a bounded wait
            _, left = psutil.wait_procs(tagged(tag), timeout=10)
            for proc in left:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
        assert not left, f"processes of the session outlived it: {[p.pid for p in left]}"
        return result

    return go


def junit_cases(path) -> dict:
    root = ET.parse(str(path)).getroot()
    return {case.get("name"): case for case in root.iter("testcase")}


@pytest.mark.parametrize("extra", [
    [],
    ["-n", "2"],
    ["--timeout=30"],
    ["--timeout=30", "--timeout-method=thread"],
    ["-o", "faulthandler_timeout=30"],
], ids=["plain", "xdist", "timeout-signal", "timeout-thread", "faulthandler-timeout"])
def test_deadlocks_fail_fast_with_the_diagnosis(run, pytester, extra):
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeconftest(CONFTEST)
    junit = pytester.path / "junit.xml"
    result = run("--mpdoctor", f"--junitxml={junit}", *extra)

    result.assert_outcomes(failed=2, passed=1)
    # well before pytest-timeout's 30 s (two deadlocks, pytest and xdist start-up included)
    assert result.duration < 25, result.duration
    result.stdout.fnmatch_lines([
        "*mpdoctor: DEADLOCK proven: nothing in the test's process tree can ever move again*",
        "*[[]join-before-drain[]] main process * waits for child * to exit at *test_suite.py:14*",
        "*-> back to 1: the cycle is closed*",
        "*mpdoctor interrupted the test's main thread and stopped 9 processes the test had "
        "started*",
    ])
    result.stdout.fnmatch_lines([
        "*[[]get-without-producer[]] main process * waits in Queue.get() at *test_suite.py:20*",
    ])
    summary = result.stdout.str().split("-- mpdoctor --", 1)[-1].splitlines()
    assert "DEADLOCK test_suite.py::test_seed_deadlock [join-before-drain]" in summary
    assert "DEADLOCK test_suite.py::test_get_without_producer [get-without-producer]" in summary
    assert "3 tests watched; 2 deadlocks proven; 0 timeouts; 0 leaked processes stopped" \
        in summary
    # teardown ran for every test, and the session went on to its end by itself
    assert sorted((pytester.path / "teardown.log").read_text().split()) == [
        "test_get_without_producer", "test_passes", "test_seed_deadlock"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED

    cases = junit_cases(junit)
    for name, slug in (("test_seed_deadlock", "join-before-drain"),
                       ("test_get_without_producer", "get-without-producer")):
        failure = cases[name].find("failure")
        assert failure is not None, name
        assert failure.get("message").startswith(f"mpdoctor: DEADLOCK [{slug}] main process ")
        assert "\n" not in failure.get("message")
        assert "Wait-for chain" in failure.text and "Fix:" in failure.text
        assert float(cases[name].get("time")) < 20  # seconds, vs pytest-timeout's 30
    assert cases["test_passes"].find("failure") is None


def test_deadlock_in_a_fixture_and_a_swallowed_interrupt(run, pytester):
    pytester.makepyfile(test_more="""
        import multiprocessing
        import pytest


        @pytest.fixture
        def stuck():
            multiprocessing.Queue().get()


        def test_setup_deadlocks(stuck):
            pass


        def test_swallows_the_interrupt():
            try:
                multiprocessing.Queue().get()
            except BaseException:
                pass


        def test_afterwards():
            pass
    """)
    result = run("--mpdoctor")
    result.assert_outcomes(errors=1, failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*ERROR at setup of test_setup_deadlocks*",
        "*[[]get-without-producer[]]*test_more.py:7*",
    ])
    result.stdout.fnmatch_lines([
        "FAILED test_more.py::test_swallows_the_interrupt - mpdoctor: DEADLOCK*",
    ])


def test_what_an_earlier_test_left_blocked_does_not_hide_a_deadlock(run, pytester):
    """A queue feeder thread of pytest's own process, left blocked by an earlier test on a pipe
    nobody reads, must not make pytest's process look able to act in every later test."""
    pytester.makepyfile(test_two="""
        import multiprocessing

        KEEP = []


        def test_leaves_a_feeder_blocked():
            q = multiprocessing.Queue()
            q.cancel_join_thread()  # so that pytest can still exit
            q.put(b"x" * 200_000)  # more than the pipe holds, and nobody reads it
            KEEP.append(q)


        def test_deadlocks_later():
            multiprocessing.Queue().get()
    """)
    result = run("--mpdoctor", "--mpdoctor-timeout=30")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["DEADLOCK test_two.py::test_deadlocks_later "
                                 "[[]get-without-producer[]]"])
    assert result.duration < 25


def test_waiting_on_outside_input_is_not_a_deadlock(run, pytester):
    """pytest's stdin is a pipe from this test, open and silent: input from outside may come at
    any time, so nothing is proven and the mpdoctor timeout ends the test."""
    pytester.makepyfile(test_stdin="""
        import os


        def test_reads_stdin():
            os.read(0, 1)
    """)
    reader, writer = os.pipe()  # the write end stays open here until the session has ended
    try:
        result = run("--mpdoctor", "--mpdoctor-timeout=2", "-s", stdin=reader)
    finally:
        os.close(reader)
        os.close(writer)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["TIMEOUT test_stdin.py::test_reads_stdin (no deadlock proven)"])
    assert "DEADLOCK" not in result.stdout.str()


def test_a_deadlock_stops_only_the_stuck_processes(run, pytester):
    """A child that sleeps beside the deadlock is not stuck: the verdict leaves it alone, and the
    leak check after teardown reports and stops it."""
    pytester.makepyfile(helpers=SLEEPER)
    pytester.makepyfile(test_bystander="""
        import multiprocessing

        from helpers import start_sleeper


        def test_deadlock_beside_a_sleeper():
            start_sleeper()
            multiprocessing.Queue().get()
    """)
    result = run("--mpdoctor")
    result.assert_outcomes(failed=1, warnings=1)
    result.stdout.fnmatch_lines(["mpdoctor interrupted the test's main thread."])
    result.stdout.fnmatch_lines(["*MpdoctorLeakWarning: mpdoctor: 1 process started by this "
                                 "test was still running after its teardown; mpdoctor stopped "
                                 "it.*"])
    result.stdout.fnmatch_lines(["1 test watched; 1 deadlock proven; 0 timeouts; "
                                 "1 leaked process stopped"])


@pytest.mark.parametrize("policy", ["warn", "fail"])
def test_a_leaked_child_is_reported_and_stopped(run, pytester, policy):
    pytester.makepyfile(helpers=SLEEPER)
    pytester.makepyfile(test_leak="""
        from helpers import start_sleeper


        def test_leaks_a_child():
            start_sleeper()


        def test_next():
            pass
    """)
    args = ["--mpdoctor"] + (["--mpdoctor-leaks=fail"] if policy == "fail" else [])
    result = run(*args)
    if policy == "warn":
        result.assert_outcomes(passed=2, warnings=1)
        result.stdout.fnmatch_lines(["*MpdoctorLeakWarning: mpdoctor: 1 process started by "
                                     "this test was still running after its teardown; "
                                     "mpdoctor stopped it.*"])
    else:
        result.assert_outcomes(passed=2, errors=1)
        result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaks_a_child*",
                                     "mpdoctor: 1 process started by this test was still "
                                     "running after its teardown; mpdoctor stopped it.*"])
    result.stdout.fnmatch_lines(["*helpers.py*, line *, in sleeper*",
                                 "*time.sleep(1000)*"])
    result.stdout.fnmatch_lines(["2 tests watched; 0 deadlocks proven; 0 timeouts; "
                                 "1 leaked process stopped"])
    assert result.duration < 60


UNPROVABLE = """
    from helpers import start_sleeper


    def test_waits_for_a_sleeping_child():
        p, q = start_sleeper()
        q.get()


    def test_after():
        pass
"""


@pytest.mark.parametrize("method", ["signal", "thread"])
def test_when_pytest_timeout_fires_first(run, pytester, method):
    """A hang nothing proves (the child sleeps): pytest-timeout's dump gains the child's
    stack, the child is stopped, and pytest does not hang or leave an orphan behind."""
    pytester.makepyfile(helpers=SLEEPER)
    pytester.makepyfile(test_hang=UNPROVABLE)
    result = run("--mpdoctor", "--timeout=2", f"--timeout-method={method}")
    result.stdout.fnmatch_lines([
        "*+ Timeout +*",
        "*mpdoctor: stacks of * child process*",  # + forkserver, tracker (3.14)
        "process * (parent *): *",
        "*helpers.py*, line *, in sleeper*",
        "*time.sleep(1000)*",
        "mpdoctor stopped 1 of them*",
    ])
    if method == "signal":
        result.assert_outcomes(failed=1, passed=1)
        result.stdout.fnmatch_lines(["*Timeout (>2.0s) from pytest-timeout*"])
    else:
        assert result.ret == 1  # pytest-timeout's own os._exit(1)
    assert result.duration < 60


def test_mpdoctor_timeout_reports_every_stack(run, pytester):
    pytester.makepyfile(helpers=SLEEPER)
    pytester.makepyfile(test_hang=UNPROVABLE)
    result = run("--mpdoctor", "--mpdoctor-timeout=1")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*mpdoctor: TIMEOUT after 1 s: the test did not finish, and no deadlock was proven*",
        "*Why no deadlock is proven*",
        "*helpers.py:7 in sleeper: time.sleep(1000)*",
        "*mpdoctor interrupted the test's main thread and stopped 1 process the test had "
        "started*",
    ])
    result.stdout.fnmatch_lines(["TIMEOUT test_hang.py::test_waits_for_a_sleeping_child*"])


@pytest.mark.parametrize("how", ["option", "env", "ini", "marker"])
def test_ways_to_switch_it_on(run, pytester, how):
    marker = "@pytest.mark.mpdoctor\n" if how == "marker" else ""
    pytester.makepyfile(test_on=(
        "import multiprocessing\nimport pytest\n\n\n"
        f"{marker}def test_stuck():\n    multiprocessing.Queue().get()\n\n\n"
        "def test_other():\n    pass\n"))
    args, env = [], {}
    if how == "option":
        args = ["--mpdoctor"]
    elif how == "env":
        env = {"MPDOCTOR": "1"}
    elif how == "ini":
        pytester.makeini("[pytest]\nmpdoctor = true\n")
    result = run(*args, env=env)
    result.assert_outcomes(failed=1, passed=1)
    watched = "1 test" if how == "marker" else "2 tests"
    result.stdout.fnmatch_lines([f"{watched} watched; 1 deadlock proven; *"])


def test_forks_warn_only_as_they_would_without_it(run, pytester):
    """From Python 3.12 a fork in a multi-threaded process warns; the watchdog thread alone
    must not make a test's fork warn, and the test's own threads still do."""
    pytester.makepyfile(test_fork="""
        import multiprocessing
        import threading


        def work(q):
            q.put(1)


        def fork_once():
            ctx = multiprocessing.get_context("fork")  # the warning is fork's own
            q = ctx.Queue()
            p = ctx.Process(target=work, args=(q,))
            p.start()
            assert q.get() == 1
            p.join()


        def test_forks():
            fork_once()  # only the watchdog runs besides the main thread: no warning
            done = threading.Event()
            t = threading.Thread(target=done.wait)
            t.start()
            try:
                fork_once()  # the test's own thread runs: the warning, as without mpdoctor
            finally:
                done.set()
                t.join()
            fork_once()
    """)
    result = run("--mpdoctor", "-W", "always::DeprecationWarning")
    result.assert_outcomes(passed=1, warnings=1 if sys.version_info >= (3, 12) else 0)


def test_off_by_default(run, pytester):
    pytester.makepyfile(test_off="def test_one():\n    pass\n")
    result = run()
    result.assert_outcomes(passed=1)
    assert "-- mpdoctor --" not in result.stdout.str()


@pytest.mark.parametrize("how,where", [
    (["--mpdoctor-timeout=soon"], "from --mpdoctor-timeout"),
    (["--mpdoctor-leaks=maybe"], "from --mpdoctor-leaks"),
    ({"MPDOCTOR_TIMEOUT": "-3"}, "from the MPDOCTOR_TIMEOUT environment variable"),
    ({"MPDOCTOR": "perhaps"}, "from the MPDOCTOR environment variable"),
    ("mpdoctor_leaks = loud", "from mpdoctor_leaks in *tox.ini"),
    ("@pytest.mark.mpdoctor(timeout='x')", "from the mpdoctor marker of test_bad.py::test_x"),
    ("@pytest.mark.mpdoctor(30)", "from the mpdoctor marker of test_bad.py::test_x"),
])
def test_a_bad_value_says_where_it_came_from(run, pytester, how, where):
    args, env, marker = [], {}, ""
    if isinstance(how, list):
        args = how
    elif isinstance(how, dict):
        env = how
    elif how.startswith("@"):
        marker = how
    else:
        pytester.makeini(f"[pytest]\n{how}\n")
    pytester.makepyfile(test_bad=f"import pytest\n\n\n{marker}\ndef test_x():\n    pass\n")
    on = [] if "MPDOCTOR" in env else ["--mpdoctor"]  # the option would win over the variable
    result = run(*on, *args, env=env)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: mpdoctor: invalid * ({where}*Example*"
                                 if "(30)" not in how else
                                 f"ERROR: mpdoctor: * ({where})*Example*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_a_bad_marker_under_xdist_is_an_error_of_its_test(run, pytester):
    """An xdist worker cannot end the session with a usage error (the controller would take it
    for a crash): the test errors, with the same message and no traceback."""
    pytester.makepyfile(test_bad="import pytest\n\n\n@pytest.mark.mpdoctor(leaks='sometimes')"
                                 "\ndef test_x():\n    pass\n")
    result = run("-n", "1")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["mpdoctor: invalid leak policy 'sometimes' (from the mpdoctor "
                                 "marker of test_bad.py::test_x)*Example*"])
    assert "Traceback" not in result.stdout.str()


def test_is_debugging_recognises_debuggers():
    import bdb

    assert pytest_plugin.is_debugging(bdb.Bdb().trace_dispatch)
    assert not pytest_plugin.is_debugging(lambda *a: None) or _monitoring_debugger()


def _monitoring_debugger() -> bool:
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and monitoring.get_tool(monitoring.DEBUGGER_ID) is not None


def test_silent_under_a_debugger(run, pytester):
    """A session run under a debugger (here a stand-in whose trace function comes from a module
    named like pydevd's) is not watched: the debugger may hold the test in any wait."""
    pytester.makepyfile(pydevd_standin="def trace(frame, event, arg):\n    return None\n")
    pytester.makeconftest("""
        import sys

        import pydevd_standin

        sys.settrace(pydevd_standin.trace)
    """)
    pytester.makepyfile(test_dbg="def test_one():\n    pass\n")
    result = run("--mpdoctor")
    result.assert_outcomes(passed=1)
    assert "watched" not in result.stdout.str()


#: processes owned by objects that outlive a test: a module's executor and pool, a session
#: fixture's server, a manager; each test of the module uses them again
PERSISTENT = """
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    import pytest

    EXECUTOR = None
    POOL = None


    def square(x):
        return x * x


    def serve(ready):
        ready.set()
        time.sleep(1000)


    @pytest.fixture(scope="session")
    def server():
        ready = multiprocessing.Event()
        p = multiprocessing.Process(target=serve, args=(ready,), daemon=True)
        p.start()
        assert ready.wait(60)
        yield p
        p.terminate()
        p.join()


    @pytest.fixture(scope="module")
    def manager():
        with multiprocessing.Manager() as m:
            yield m


    def test_first(server, manager):
        global EXECUTOR, POOL
        EXECUTOR = ProcessPoolExecutor(2)
        POOL = multiprocessing.Pool(2)
        assert EXECUTOR.submit(square, 3).result() == 9
        assert POOL.apply(square, (4,)) == 16
        manager.dict()["a"] = 1


    def test_second(server, manager):
        # the same workers, still there
        assert EXECUTOR.submit(square, 5).result() == 25
        assert POOL.apply(square, (6,)) == 36
        assert server.is_alive()


    def test_last():
        EXECUTOR.shutdown()
        POOL.close()
        POOL.join()
"""


def test_processes_owned_by_what_outlives_a_test_are_left_alone(run, pytester):
    pytester.makepyfile(test_persist=PERSISTENT)
    result = run("--mpdoctor")
    result.assert_outcomes(passed=3)
    assert "MpdoctorLeakWarning" not in result.stdout.str()
    result.stdout.fnmatch_lines(["3 tests watched; 0 deadlocks proven; 0 timeouts; "
                                 "0 leaked processes stopped"])


def test_a_wait_an_alarm_ends_is_no_deadlock(run, pytester):
    """signal.alarm() around a join of a child that never ends: the handler raises, the test
    stops the child and passes, as it does without mpdoctor."""
    pytester.makepyfile(test_alarm="""
        import multiprocessing
        import signal


        class Timeout(Exception):
            pass


        def raise_timeout(signum, frame):
            raise Timeout


        def test_join_with_an_alarm():
            event = multiprocessing.Event()
            p = multiprocessing.Process(target=event.wait)
            p.start()
            old = signal.signal(signal.SIGALRM, raise_timeout)
            signal.alarm(2)
            try:
                p.join()
            except Timeout:
                p.terminate()
                p.join()
            finally:
                signal.signal(signal.SIGALRM, old)
            assert p.exitcode == -signal.SIGTERM
    """)
    for args in (["--mpdoctor"], ["--mpdoctor", "--timeout=60"]):
        result = run(*args)
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["1 test watched; 0 deadlocks proven; 0 timeouts; *"])


def test_ignore_never_silences_a_deadlock_and_checks_its_slugs(run, pytester):
    pytester.makeini("[pytest]\nmpdoctor_ignore =\n    pool-terminated\n")
    pytester.makepyfile(test_ign="""
        import multiprocessing

        import pytest


        @pytest.mark.mpdoctor(ignore=["get-without-producer"])
        def test_get():
            multiprocessing.Queue().get()
    """)
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]get-without-producer[]]*",
                                 "note: --ignore get-without-producer: not left out, it is an "
                                 "error*"])
    pytester.makepyfile(test_ign="""
        import pytest


        @pytest.mark.mpdoctor(ignore=["no-such-slug"])
        def test_x():
            pass
    """)
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'no-such-slug' (from the mpdoctor marker of "
                                 "test_ign.py::test_x) is not a diagnosis*"])
