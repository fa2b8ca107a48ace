"""Settings of the pytest plugin, from the command line, the environment, the config file and
the ``mpdoctor`` marker, in that order of precedence below the marker (the marker wins for its
test).  A bad value is a usage error that says where it came from."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import Any, Iterable, Optional, Tuple

import pytest

ENV_ENABLE = "MPDOCTOR"
ENV_TIMEOUT = "MPDOCTOR_TIMEOUT"
ENV_LEAKS = "MPDOCTOR_LEAKS"
ENV_IGNORE = "MPDOCTOR_IGNORE"

LEAK_POLICIES = ("warn", "fail", "ignore")

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")

MARKER_HELP = ("mpdoctor(enabled=True, timeout=None, leaks=None, ignore=()): watch this test with "
               "mpdoctor: a proven deadlock fails it within about a second with the diagnosis; "
               "child processes it leaves running are reported and stopped.  timeout: seconds "
               "before it fails with every stack (0: none); leaks: warn, fail or ignore; "
               "ignore: slugs of warnings to leave out (a proven deadlock still fails).")


@dataclass(frozen=True)
class Settings:
    enabled: bool = False
    timeout: Optional[float] = None  # seconds; None: watch until the test ends
    leaks: str = "warn"
    #: slugs of warnings to leave out of the reports (a proven deadlock is never left out)
    ignore: Tuple[str, ...] = ()


def _error(what: str, value: Any, where: str, why: str, example: str) -> pytest.UsageError:
    return pytest.UsageError(f"mpdoctor: invalid {what} {value!r} (from {where}): {why}. "
                             f"Example: {example}.")


def parse_enabled(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise _error("on/off value", value, where, "expected one of 1/0, true/false, yes/no, on/off",
                 f"{ENV_ENABLE}=1, or `mpdoctor = true` in the config file")


def parse_timeout(value: Any, where: str) -> Optional[float]:
    """Seconds; ``None``, empty or 0 mean no timeout."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        seconds = float("nan")
    else:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = float("nan")
    if not math.isfinite(seconds) or seconds < 0:
        raise _error("timeout", value, where, "not a number of seconds (0 or more)",
                     "--mpdoctor-timeout 60 (0 means no timeout)")
    return seconds or None


def parse_leaks(value: Any, where: str) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text not in LEAK_POLICIES:
        raise _error("leak policy", value, where, f"expected one of {', '.join(LEAK_POLICIES)}",
                     "--mpdoctor-leaks=fail")
    return text


def parse_ignore(value: Any, where: str) -> Tuple[str, ...]:
    """Slugs: a comma-separated string, or a list (of strings that may hold commas)."""
    from mpdoctor.diagnose import check_slugs
    from mpdoctor.errors import UsageError

    items = [value] if isinstance(value, str) else list(value) if isinstance(
        value, Iterable) else None
    if items is None or not all(isinstance(i, str) for i in items):
        raise _error("ignore list", value, where, "expected slugs, as a list or comma-separated",
                     "@pytest.mark.mpdoctor(ignore=['feeder-dropped-item'])")
    try:
        return tuple(check_slugs(items, where))
    except UsageError as err:
        raise pytest.UsageError(f"mpdoctor: {err}") from None


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mpdoctor", "mpdoctor: prove multiprocessing deadlocks in tests")
    group.addoption("--mpdoctor", action="store_true", default=None,
                    help="watch every test: a proven deadlock fails the test within about a "
                         "second with the diagnosis, and child processes a test leaves "
                         f"running are reported and stopped (env {ENV_ENABLE}=1, ini mpdoctor)")
    group.addoption("--mpdoctor-timeout", metavar="SECONDS", default=None,
                    help="fail a watched test after SECONDS even if no deadlock is proven, "
                         f"with every stack (default: none; env {ENV_TIMEOUT}, "
                         "ini mpdoctor_timeout)")
    group.addoption("--mpdoctor-leaks", metavar="POLICY", default=None,
                    help="child processes still running after a test's teardown: warn "
                         "(default), fail (an error of the test) or ignore (left alone); "
                         f"env {ENV_LEAKS}, ini mpdoctor_leaks")
    group.addoption("--mpdoctor-ignore", metavar="SLUG[,SLUG]", default=None,
                    help="leave these warnings out of the reports (a proven deadlock still "
                         f"fails the test); env {ENV_IGNORE}, ini mpdoctor_ignore")
    group.addoption("--mpdoctor-html", metavar="DIR", default=None,
                    help="write a self-contained HTML report for each test mpdoctor fails "
                         "into DIR (created if needed), one page per test, named after its "
                         "node id")
    parser.addini("mpdoctor", "watch every test with mpdoctor (true/false)", default="")
    parser.addini("mpdoctor_timeout", "seconds before a watched test fails anyway (0: none)",
                  default="")
    parser.addini("mpdoctor_leaks", "warn, fail or ignore child processes left by a test",
                  default="")
    parser.addini("mpdoctor_ignore", "slugs of warnings to leave out of the reports",
                  type="linelist", default=[])


def _config_file(config: pytest.Config) -> str:
    path = getattr(config, "inipath", None)
    return str(path) if path else "the config file"


def from_config(config: pytest.Config) -> Settings:
    """The session-wide settings: command line, then environment, then config file."""
    ini_where = _config_file(config)

    def pick(option: str, env: str, ini: str):
        value = config.getoption(option)
        if value is not None:
            return value, f"--{option.replace('_', '-')}"
        value = os.environ.get(env)
        if value is not None and value.strip() != "":
            return value, f"the {env} environment variable"
        value = config.getini(ini)
        if value not in (None, "", []):
            return value, f"{ini} in {ini_where}"
        return None, ""

    value, where = pick("mpdoctor", ENV_ENABLE, "mpdoctor")
    enabled = parse_enabled(value, where) if value is not None else False
    value, where = pick("mpdoctor_timeout", ENV_TIMEOUT, "mpdoctor_timeout")
    timeout = parse_timeout(value, where)
    value, where = pick("mpdoctor_leaks", ENV_LEAKS, "mpdoctor_leaks")
    leaks = parse_leaks(value, where) if value is not None else "warn"
    value, where = pick("mpdoctor_ignore", ENV_IGNORE, "mpdoctor_ignore")
    ignore = parse_ignore(value, where) if value is not None else ()
    return Settings(enabled=enabled, timeout=timeout, leaks=leaks, ignore=ignore)


def html_dir(config: pytest.Config) -> Optional[str]:
    """The directory of ``--mpdoctor-html``, absolute (from where pytest was started)."""
    value = config.getoption("mpdoctor_html", None)
    if not value:
        return None
    return os.path.join(str(config.invocation_params.dir), os.path.expanduser(value))


def for_item(item: pytest.Item, base: Settings) -> Settings:
    """The settings of one test: ``base`` with its closest ``mpdoctor`` marker applied.  A
    marker switches mpdoctor on for its test unless it says ``enabled=False``."""
    marker = item.get_closest_marker("mpdoctor")
    if marker is None:
        return base
    where = f"the mpdoctor marker of {item.nodeid}"
    if marker.args:
        raise pytest.UsageError(
            f"mpdoctor: the mpdoctor marker takes keyword arguments only, got {marker.args!r} "
            f"(from {where}). Example: @pytest.mark.mpdoctor(timeout=60, leaks='fail').")
    unknown = set(marker.kwargs) - {"enabled", "timeout", "leaks", "ignore"}
    if unknown:
        raise pytest.UsageError(
            f"mpdoctor: unknown argument {', '.join(sorted(unknown))} (from {where}); the "
            "marker takes enabled, timeout, leaks and ignore. "
            "Example: @pytest.mark.mpdoctor(timeout=60, leaks='fail').")
    settings = replace(base, enabled=True)
    if "enabled" in marker.kwargs:
        settings = replace(settings, enabled=parse_enabled(marker.kwargs["enabled"], where))
    if "timeout" in marker.kwargs:
        settings = replace(settings, timeout=parse_timeout(marker.kwargs["timeout"], where))
    if "leaks" in marker.kwargs:
        settings = replace(settings, leaks=parse_leaks(marker.kwargs["leaks"], where))
    if "ignore" in marker.kwargs:
        settings = replace(settings, ignore=tuple(sorted(
            set(base.ignore) | set(parse_ignore(marker.kwargs["ignore"], where)))))
    return settings
