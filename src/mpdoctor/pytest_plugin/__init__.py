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

The plugin is this package's module-level hooks; the plugin object of a session is made of one
module per concern: ``_interrupt`` (stopping a stuck test where it is), ``_failure`` (the
report that becomes the diagnosis), ``_leaks`` (processes a test leaves behind), ``_debugger``
(never interrupt a debugging session), ``_timeout`` (pytest-timeout's dump), ``_summary``.
"""

from __future__ import annotations

import sys

import pytest

from mpdoctor import pytest_settings
from mpdoctor.pytest_plugin._debugger import is_debugging
from mpdoctor.pytest_plugin._interrupt import MpdoctorInterrupt
from mpdoctor.pytest_plugin._leaks import MpdoctorLeakWarning
from mpdoctor.pytest_plugin._session import MARKER_ERROR_KEY, Plugin, _supported

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

