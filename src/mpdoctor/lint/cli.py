"""``mpdoctor lint [PATHS...]``: find multiprocessing traps in source code, without running it.

Exit status: 0 nothing found, 1 findings, 2 bad usage (or a bug in the linter).  Only the
standard library is imported here, so that a lint run starts in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Iterator, List, NoReturn, Optional, Sequence, Set, Tuple

from mpdoctor.lint import output
from mpdoctor.lint.engine import lint_source
from mpdoctor.lint.model import SYNTAX_ERROR, Finding
from mpdoctor.lint.rules import RULES

OK, FOUND, USAGE = 0, 1, 2
#: folders never entered when a directory is linted (explicit file arguments are always read)
SKIP_DIRS = {"__pycache__", "node_modules", "venv", "site-packages", "build", "dist"}


class LintUsageError(Exception):
    """Bad command line: the message says what is wrong and how to fix it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise LintUsageError(f"{message}. See `mpdoctor lint --help`.")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mpdoctor lint",
                description="Find multiprocessing traps (joins before drains, payloads that "
                            "cannot be pickled, processes started at import time...) in Python "
                            "source, without running it.",
                epilog="exit status: 0 = nothing found, 1 = findings, 2 = bad usage or an "
                       "internal error.  Silence a line with `# mpdoctor: ignore[SLUG]` (or "
                       "`# mpdoctor: ignore` for every rule).  Rules: docs/lint.md.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="files and folders to check ('-' reads stdin; default: .)")
    p.add_argument("--format", choices=output.FORMATS, default="text",
                   help="text (path:line:col: SLUG message), json, or github (workflow "
                        "annotations)")
    p.add_argument("--select", metavar="SLUGS", help="only these rules (comma-separated)")
    p.add_argument("--ignore", metavar="SLUGS", help="skip these rules (comma-separated)")
    p.add_argument("--stdin-filename", metavar="NAME",
                   help="the name to report for source read from stdin")
    p.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    return p


def _slugs(value: Optional[str], option: str) -> Optional[Set[str]]:
    if value is None:
        return None
    slugs = {s.strip() for s in value.split(",") if s.strip()}
    known = set(RULES) | {SYNTAX_ERROR}
    unknown = sorted(slugs - known)
    if unknown:
        raise LintUsageError(
            f"unknown rule {', '.join(repr(u) for u in unknown)} in {option}. Pass "
            f"comma-separated slugs from this list: {', '.join(sorted(RULES))} (see "
            "`mpdoctor lint --list-rules`).")
    return slugs


def _files(paths: Sequence[str]) -> Iterator[str]:
    for path in paths:
        if path == "-":
            yield path
        elif os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
                for name in sorted(names):
                    if name.endswith(".py"):
                        yield os.path.join(root, name)
        elif os.path.exists(path):
            yield path
        else:
            raise LintUsageError(
                f"{path!r} does not exist. Pass files or folders that exist (relative to "
                f"{os.getcwd()}), or '-' to read the source from stdin.")


def lint_paths(paths: Sequence[str], select: Optional[Set[str]] = None,
               stdin_name: str = "-") -> Tuple[List[Finding], int]:
    """Findings for every file under ``paths``, and how many files were read."""
    findings: List[Finding] = []
    count = 0
    for path in _files(paths):
        if path == "-":
            source = sys.stdin.buffer.read()
            name = stdin_name
        else:
            name = path
            try:
                with open(path, "rb") as f:
                    source = f.read()
            except OSError as err:
                raise LintUsageError(f"cannot read {path!r}: {err.strerror}. Check its "
                                     "permissions, or leave it out.") from err
        count += 1
        findings += lint_source(source, name, select)
    return findings, count


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.list_rules:
            for slug, r in sorted(RULES.items()):
                runtime = f" (at run time: {r.runtime})" if r.runtime else ""
                sys.stdout.write(f"{slug:24} {r.summary}{runtime}\n")
            return OK
        selected = _slugs(args.select, "--select")
        ignored = _slugs(args.ignore, "--ignore") or set()
        run = set(RULES) if selected is None else selected
        run -= ignored
        if "-" in args.paths and args.paths.count("-") > 1:
            raise LintUsageError("'-' (stdin) can be given only once.")
        findings, count = lint_paths(args.paths or ["."], run, args.stdin_filename or "-")
    except LintUsageError as err:
        sys.stderr.write(f"mpdoctor lint: error: {err}\n")
        return USAGE
    findings = [f for f in findings
                if f.slug not in ignored and (f.slug in run or f.slug == SYNTAX_ERROR)]
    try:
        sys.stdout.write(output.render(findings, args.format))
        sys.stdout.flush()
        if args.format == "text":  # the summary is for people: stderr, not the parsed stream
            files = len({f.path for f in findings})
            sys.stderr.write(
                f"mpdoctor lint: {len(findings)} finding{'s' * (len(findings) != 1)} in "
                f"{files} of {count} file{'s' * (count != 1)} checked\n" if findings else
                f"mpdoctor lint: nothing found in {count} file{'s' * (count != 1)}\n")
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return FOUND if findings else OK


if __name__ == "__main__":
    sys.exit(main())
