"""What the linter reports: plain data, rendered by ``output.py``."""

from __future__ import annotations

from dataclasses import dataclass

#: the pseudo-rule for a file that cannot be parsed (reported, never raised)
SYNTAX_ERROR = "syntax-error"


@dataclass(frozen=True)
class Finding:
    """One finding at ``path:line:col`` (both 1-based, like ruff's)."""

    path: str
    line: int
    col: int
    slug: str
    message: str

    @property
    def docs(self) -> str:
        return f"docs/lint.md#{self.slug}"


@dataclass(frozen=True)
class Rule:
    """A registered rule: its slug, a one-line summary, and the runtime diagnosis it
    anticipates (``None`` when the trap has no runtime counterpart)."""

    slug: str
    summary: str
    runtime: str | None
