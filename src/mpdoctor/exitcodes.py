"""Exit statuses of ``mpdoctor check``.

When the script ends by itself, mpdoctor exits with the script's own status (a death by signal
N becomes 128 + N, as a shell reports it).  The codes below are mpdoctor's own; they are part of
the stable contract (docs/cli.md) and never change meaning.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing is not imported at run time: see cli.py on start-up time)
    from typing import Optional

    from mpdoctor.outcome import Outcome


class ExitCode:
    """The codes, as plain ints (an enum would cost its import before the script starts)."""

    #: a stuck state was proven: nothing in the process tree can ever move again
    DEADLOCK = 86
    #: ``--timeout`` was reached and no deadlock was proven
    TIMEOUT = 87
    #: bad input: unknown option, missing script, bad value; the script was not started
    USAGE = 88
    #: mpdoctor itself failed (a bug, or the platform cannot be observed)
    INTERNAL = 89
    #: with --strict: the script exited 0, but mpdoctor reported a finding (a dropped item...)
    FINDINGS = 90


def exit_code(outcome: "Outcome", strict: bool = False) -> int:
    """mpdoctor's exit status for an outcome: the one place it is decided."""
    from mpdoctor.outcome import Verdict

    if outcome.verdict is Verdict.DEADLOCK:
        return int(ExitCode.DEADLOCK)
    if outcome.verdict is Verdict.TIMEOUT:
        return int(ExitCode.TIMEOUT)
    if outcome.verdict is Verdict.EXITED:
        return 0  # attach: the process ended while it was watched
    return script_status(outcome.status, strict and bool(
        outcome.diagnosis is not None and outcome.diagnosis.findings))


def script_status(status: Optional[int], findings: bool = False) -> int:
    """The script's own status as a shell reports it (128+N for a death by signal N); 90 in
    place of 0 when ``findings`` (``--strict`` and mpdoctor reported something)."""
    st = status if status is not None else 0
    code = st if st >= 0 else 128 - st
    return int(ExitCode.FINDINGS) if code == 0 and findings else code
