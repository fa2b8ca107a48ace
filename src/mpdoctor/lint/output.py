"""Renderers: findings in, text out.  Nothing here prints."""

from __future__ import annotations

import json
from typing import List, Sequence

from mpdoctor.lint.model import Finding

FORMATS = ("text", "json", "github")


def text(findings: Sequence[Finding]) -> str:
    return "".join(f"{f.path}:{f.line}:{f.col}: {f.slug} {f.message}\n" for f in findings)


def as_json(findings: Sequence[Finding]) -> str:
    rows: List[dict] = [{"path": f.path, "line": f.line, "col": f.col, "slug": f.slug,
                         "message": f.message, "docs": f.docs} for f in findings]
    return json.dumps(rows, indent=2) + "\n"


def _escape_data(s: str) -> str:
    # GitHub's workflow-command escaping: data and property values differ
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github(findings: Sequence[Finding]) -> str:
    return "".join(
        f"::error file={_escape_property(f.path)},line={f.line},col={f.col},"
        f"title={_escape_property('mpdoctor ' + f.slug)}::{_escape_data(f.message)}\n"
        for f in findings)


def render(findings: Sequence[Finding], fmt: str) -> str:
    return {"text": text, "json": as_json, "github": github}[fmt](findings)
