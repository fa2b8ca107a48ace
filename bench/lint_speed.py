"""Speed of ``mpdoctor lint``: files and lines per second over the standard library.

    python bench/lint_speed.py [--repeat N] [DIR ...]

Lints every ``*.py`` under the standard library's ``multiprocessing``, ``concurrent`` and
``test`` packages (or the folders given), reading each file once beforehand so that disk reads
are not timed, and prints the best of N runs.  For scale it also times ``ast.parse`` alone on
the same files: the part of the cost no AST-based linter can avoid.
"""

from __future__ import annotations

import argparse
import ast
import os
import sysconfig
import time
from typing import List, Tuple

from mpdoctor.lint import RULES, lint_source


def sources(dirs: List[str]) -> List[Tuple[str, bytes]]:
    out = []
    for d in dirs:
        for root, subdirs, names in os.walk(d):
            subdirs.sort()
            for name in sorted(names):
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    with open(path, "rb") as f:
                        out.append((path, f.read()))
    return out


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _parse_all(files: List[Tuple[str, bytes]]) -> None:
    for path, src in files:
        try:
            ast.parse(src, path)
        except (SyntaxError, ValueError):
            pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    stdlib = sysconfig.get_paths()["stdlib"]
    dirs = args.dirs or [os.path.join(stdlib, d) for d in ("multiprocessing", "concurrent", "test")]
    files = sources(dirs)
    lines = sum(src.count(b"\n") for _, src in files)
    found: List[int] = []

    def lint_all() -> None:
        found.clear()
        for path, src in files:
            found.append(len(lint_source(src, path)))

    parse = best(lambda: _parse_all(files), args.repeat)
    lint = best(lint_all, args.repeat)
    print(f"{len(files)} files, {lines:,} lines, {len(RULES)} rules, {sum(found)} findings")
    print(f"mpdoctor lint: {lint:.2f} s = {len(files) / lint:,.0f} files/s, "
          f"{lines / lint:,.0f} lines/s (best of {args.repeat})")
    print(f"ast.parse alone: {parse:.2f} s = {len(files) / parse:,.0f} files/s; "
          f"the rules add {100 * (lint - parse) / parse:.0f}%")


if __name__ == "__main__":
    main()
