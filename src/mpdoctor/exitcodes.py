"""Exit statuses of ``mpdoctor check``.

When the script ends by itself, mpdoctor exits with the script's own status (a death by signal
N becomes 128 + N, as a shell reports it).  The codes below are mpdoctor's own; they are part of
the stable contract (docs/cli.md) and never change meaning.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
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
