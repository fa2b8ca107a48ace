"""``mpdoctor lint``: find multiprocessing traps in source code before it runs.

AST-based and standard library only.  ``lint_source(source, path)`` returns the findings of one
module; ``mpdoctor.lint.cli.main(argv)`` is the command.  Each rule lives in ``rules/``.
"""

from __future__ import annotations

from mpdoctor.lint.engine import lint_source
from mpdoctor.lint.model import SYNTAX_ERROR, Finding, Rule
from mpdoctor.lint.rules import RULES

__all__ = ["lint_source", "Finding", "Rule", "RULES", "SYNTAX_ERROR"]
