"""``mpdoctor explain SLUG``: a diagnosis's docs page, and the commands a report points at.

The pages (``docs/diagnoses/SLUG.md``) ship in the wheel as ``mpdoctor/_docs/diagnoses``, the way
the catalogue ships as ``mpdoctor/_repro``, so what a report points at works after
``pip install mpdoctor`` as well as in a source checkout: ``mpdoctor explain SLUG`` for the page,
``mpdoctor repro run CASE FILE`` for a reproducer that gives the same diagnosis.

Nothing here prints: the CLI renders what these functions return.
"""

from __future__ import annotations

import functools
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional

from mpdoctor.errors import UsageError

if TYPE_CHECKING:
    from mpdoctor.model import Finding


def docs_root() -> Optional[Path]:
    """The folder of the diagnosis pages: the installed copy first, then the checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_docs" / "diagnoses", here.parent.parent / "docs" / "diagnoses"):
        if candidate.is_dir():
            return candidate
    return None


def slugs() -> tuple:
    from mpdoctor.diagnose import SLUGS
    return SLUGS


def page(slug: str) -> Path:
    """The docs page of ``slug``; a bad slug is a usage error that lists the good ones."""
    known = slugs()
    if slug not in known:
        close = [s for s in known if slug and (slug in s or s in slug)]
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise UsageError(f"there is no diagnosis {slug!r}.{hint}",
                         f"The diagnoses are: {', '.join(sorted(known))} "
                         "(each report's findings name theirs in [brackets]).")
    root = docs_root()
    path = root / f"{slug}.md" if root is not None else None
    if path is None or not path.is_file():
        raise UsageError(f"the page of {slug!r} is not installed with this copy of mpdoctor.",
                         "Install mpdoctor from its wheel, or run it from a source checkout.")
    return path


def render(slug: str):
    """The page as rich Markdown."""
    from rich.markdown import Markdown

    return Markdown(page(slug).read_text(encoding="utf-8"))


def command(slug: str) -> str:
    return f"mpdoctor explain {slug}"


@functools.lru_cache(maxsize=1)
def _examples() -> Dict[str, str]:
    """slug -> ``mpdoctor repro run ...`` of the first catalogue run that gives that diagnosis
    (the case named after the slug first, and a run with that finding alone first)."""
    from mpdoctor import catalogue

    try:
        cases = catalogue.cases()
    except (UsageError, OSError):
        return {}
    ranked = []
    for case in cases:
        for order, run in enumerate(case.runs):
            for slug in run.slugs:
                named = case.name != slug.replace("-", "_")
                ranked.append(((slug, named, len(run.slugs) > 1, order, case.name), case, run))
    out: Dict[str, str] = {}
    for (slug, *_), case, run in sorted(ranked, key=lambda r: r[0]):
        if slug in out:
            continue
        argv = list(run.argv)
        i = run.script_index
        words = [*argv[:i], case.name, argv[i], *argv[i + 1:]]
        out[slug] = "mpdoctor repro run " + " ".join(shlex.quote(w) for w in words)
    return out


def example(slug: str) -> Optional[str]:
    """The command that runs a reproducer of ``slug`` (None when the catalogue has none)."""
    return _examples().get(slug)


def refs(finding: "Finding") -> Dict[str, str]:
    """What a report shows under a finding, as commands that work wherever mpdoctor is
    installed: ``explain`` (its page), ``example`` (a reproducer with the same diagnosis) and,
    when the finding names one, ``fixed`` (the same program, fixed)."""
    out = {"explain": command(finding.slug)}
    ex = example(finding.slug)
    if ex:
        out["example"] = ex
    parts = finding.repro.split("/")
    if len(parts) == 3 and parts[0] == "repro":  # the finding names a fixed script
        out["fixed"] = f"mpdoctor repro run {parts[1]} {parts[2]}"
    return out
