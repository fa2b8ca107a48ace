"""One exception hierarchy; each error carries the help text that says how to fix it.

Only ``cli.py`` catches these, prints them and picks the exit code.
"""

from __future__ import annotations

from mpdoctor.exitcodes import ExitCode

PTRACE_HELP = (
    "The kernel refused to let mpdoctor inspect the process (ptrace is not permitted). "
    "Processes started by mpdoctor itself can normally be inspected; for others run as the "
    "same user with `sysctl kernel.yama.ptrace_scope=0` (or 1 for descendants only), or in a "
    "container add `--cap-add SYS_PTRACE`."
)


class MpdoctorError(Exception):
    """Base class. ``str(err)`` is a one-paragraph message that ends with the fix."""

    exit_code: int = ExitCode.INTERNAL

    def __init__(self, message: str, help: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.help = help

    def __str__(self) -> str:
        return f"{self.message} {self.help}".strip()


class UsageError(MpdoctorError):
    """The command line or its values are wrong; nothing was started."""

    exit_code = ExitCode.USAGE


class TargetError(UsageError):
    """The script, module or interpreter to run cannot be used."""


class PlatformError(MpdoctorError):
    """This system cannot be observed the way mpdoctor needs (no /proc, not Linux)."""

    exit_code = ExitCode.INTERNAL


class SnapshotError(UsageError):
    """A saved snapshot file cannot be read."""
