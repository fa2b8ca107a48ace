"""GitHub Actions annotations: when a workflow runs mpdoctor (``GITHUB_ACTIONS=true``), each
finding also becomes one workflow command, which GitHub shows on the run's summary and on the
pull request's diff, at the user's line::

    ::error file=seed_hang.py,line=30,title=mpdoctor join-before-drain::main process 3792 ...

Errors are ``::error``, warnings ``::warning``, anything else ``::notice``.  The line is the
finding's ``data["site"]`` (``file:line``, the user's code it points at); a path inside
``GITHUB_WORKSPACE`` is made relative to it, as GitHub needs to place it on the diff.  Values
are escaped as the runner decodes them (actions/toolkit ``command.ts``): ``%``, CR and LF in
the message, and also ``:`` and ``,`` in properties.

The runner reads workflow commands from a step's stdout and stderr alike; the CLI writes them
to stderr after its report, so that the script's own stdout is left as it was.
"""

from __future__ import annotations

import os
from typing import Iterable, List, Mapping, Optional, Tuple

from mpdoctor.model import Finding, Severity

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}


def enabled(environ: Optional[Mapping[str, str]] = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def location(finding: Finding) -> Optional[Tuple[str, int]]:
    """(path, line) of the user's line the finding points at, if it has one."""
    site = finding.data.get("site") if isinstance(finding.data, dict) else None
    if not isinstance(site, str) or ":" not in site:
        return None
    path, _, line = site.rpartition(":")  # a path may hold colons; the line does not
    if not path or not line.isdigit() or int(line) <= 0:
        return None
    return path, int(line)


def relative(path: str, workspace: Optional[str]) -> str:
    """``path`` relative to the workspace when it lies inside it, else as it is."""
    if not workspace or not os.path.isabs(path):
        return path
    for p, w in ((os.path.normpath(path), os.path.normpath(workspace)),
                 (os.path.realpath(path), os.path.realpath(workspace))):
        try:
            if os.path.commonpath([p, w]) == w:
                return os.path.relpath(p, w)
        except ValueError:
            continue
    return path


def annotation(finding: Finding, workspace: Optional[str] = None) -> str:
    """One workflow command for ``finding``."""
    level = LEVELS.get(finding.severity, "notice")
    props = []
    where = location(finding)
    if where is not None:
        props += [f"file={escape_property(relative(where[0], workspace))}", f"line={where[1]}"]
    props.append(f"title={escape_property('mpdoctor ' + finding.slug)}")
    return f"::{level} {','.join(props)}::{escape_data(finding.summary)}"


def lines(findings: Iterable[Finding],
          environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """The annotations of ``findings`` (none when not running under GitHub Actions)."""
    env = os.environ if environ is None else environ
    if not enabled(env):
        return []
    workspace = env.get("GITHUB_WORKSPACE") or None
    return [annotation(f, workspace) for f in findings]
