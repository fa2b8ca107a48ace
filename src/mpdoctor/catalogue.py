"""The catalogue of reproducers: one folder per case under ``repro/``, each with a README.md and
runnable scripts.

The catalogue ships in the wheel as ``mpdoctor/_repro``; in a source checkout it is ``repro/``
at the top of the tree.  Each README says what its scripts do under ``mpdoctor check`` in a
table whose rows start with the command in a code span::

    | run | exit status | verdict | finding |
    |---|---|---|---|
    | `mpdoctor check seed_hang.py 20000` | 86 | deadlock | `join-before-drain` |

That table is the one place where the expected outcome is written down: ``mpdoctor repro show``
shows it, and the test suite runs every row and checks it.

Nothing here prints: the CLI renders what these functions return.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from mpdoctor.errors import UsageError

#: a table row whose first cell is a command run under mpdoctor
_RUN_ROW = re.compile(r"^\|\s*`mpdoctor check ([^`]+)`\s*\|(.*)\|\s*$")
_SLUG = re.compile(r"`([a-z][a-z0-9-]*)`")
#: a word that names a script: letters, digits and underscores with a letter in it, or ``.py``
_SCRIPT_NAME = re.compile(r"(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]+(\.py)?|.+\.py")


@dataclass(frozen=True)
class Run:
    """One run whose outcome a case's README promises."""

    #: mpdoctor check's options, then the script (relative to the case folder) and its args
    argv: Tuple[str, ...]
    exit_code: int
    verdict: str
    slugs: Tuple[str, ...] = ()

    @property
    def script_index(self) -> int:
        """Where the script is in ``argv`` (after mpdoctor's own options)."""
        for i, arg in enumerate(self.argv):
            if arg.endswith(".py"):
                return i
        raise ValueError(f"no script in {self.argv}")

    @property
    def script(self) -> str:
        return self.argv[self.script_index]


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    title: str
    scripts: Tuple[str, ...]
    runs: Tuple[Run, ...]

    @property
    def readme(self) -> Path:
        return self.path / "README.md"

    @property
    def default_script(self) -> str:
        """The script ``mpdoctor repro run CASE`` runs: the first one the README runs."""
        return self.runs[0].script if self.runs else self.scripts[0]


def root() -> Path:
    """The catalogue folder: the installed copy first, then the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_repro", here.parent.parent / "repro"):
        if candidate.is_dir():
            return candidate
    raise UsageError("the catalogue of reproducers is not installed with this copy of mpdoctor.",
                     "Install mpdoctor from its wheel, or run it from a source checkout.")


def parse_runs(text: str) -> Tuple[Run, ...]:
    """The rows of a README's outcome table (see the module docstring)."""
    runs = []
    for line in text.splitlines():
        m = _RUN_ROW.match(line.strip())
        if not m:
            continue
        cells = [c.strip() for c in m.group(2).split("|")]
        if len(cells) != 3:
            raise ValueError(f"an outcome row has 4 cells: {line!r}")
        exit_cell, verdict, finding = cells
        runs.append(Run(argv=tuple(shlex.split(m.group(1))), exit_code=int(exit_cell),
                        verdict=verdict, slugs=tuple(_SLUG.findall(finding))))
    return tuple(runs)


def load(path: Path) -> Case:
    text = (path / "README.md").read_text(encoding="utf-8")
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")),
                 path.name)
    scripts = tuple(sorted(p.name for p in path.glob("*.py")))
    return Case(name=path.name, path=path, title=title, scripts=scripts, runs=parse_runs(text))


def cases(where: Optional[Path] = None) -> List[Case]:
    """Every case of the catalogue, by name."""
    base = where or root()
    return [load(p) for p in sorted(base.iterdir())
            if p.is_dir() and (p / "README.md").is_file()]


def find(name: str, where: Optional[Path] = None) -> Case:
    """The case called ``name`` (``join-before-drain`` and ``join_before_drain`` both work)."""
    all_cases = cases(where)
    wanted = name.strip("/").replace("-", "_")
    for case in all_cases:
        if case.name == wanted:
            return case
    raise UsageError(f"there is no case {name!r} in the catalogue.",
                     f"The cases are: {', '.join(c.name for c in all_cases)} "
                     "(see `mpdoctor repro list`).")


def command(case: Case, rest: Sequence[str]) -> List[str]:
    """The script to run and its arguments, from ``run CASE [FILE] [ARGS...]``.

    The first of ``rest`` is FILE when it names one of the case's scripts (with or without
    ``.py``).  A first word that looks like a script name (``fix_pool``, ``nosuch.py``) and is
    none of them is a mistake, not an argument; anything else (``20000``, ``-v``) goes with the
    rest to the case's default script."""
    rest = list(rest)
    if rest:
        first = rest[0] if rest[0].endswith(".py") else rest[0] + ".py"
        if first in case.scripts:
            return [str(case.path / first), *rest[1:]]
        if _SCRIPT_NAME.fullmatch(rest[0]):
            raise UsageError(f"the case {case.name!r} has no script {rest[0]!r}.",
                             f"Its scripts are: {', '.join(case.scripts)}. To pass "
                             f"{rest[0]!r} to the default script, name it first: mpdoctor "
                             f"repro run {case.name} {case.default_script[:-3]} "
                             f"{shlex.join(rest)}.")
    return [str(case.path / case.default_script), *rest]


def listing(where: Optional[Path] = None):
    """A rich table of the cases: name, what each shows, how many scripts."""
    from rich.table import Table

    table = Table(title="mpdoctor catalogue of reproducers", title_justify="left",
                  caption="mpdoctor repro show CASE: its README;  "
                          "mpdoctor repro run CASE [FILE] [ARGS...]: run a script",
                  caption_justify="left")
    table.add_column("case", style="bold", no_wrap=True)
    table.add_column("what it shows")
    table.add_column("scripts", justify="right")
    for case in cases(where):
        table.add_row(case.name, case.title, str(len(case.scripts)))
    return table


def readme(name: str, where: Optional[Path] = None):
    """The case's README as rich Markdown."""
    from rich.markdown import Markdown

    return Markdown(find(name, where).readme.read_text(encoding="utf-8"))
