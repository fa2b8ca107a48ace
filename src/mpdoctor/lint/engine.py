"""Lint one source: parse it, run the selected rules, drop what inline comments silence."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Collection, Dict, List, Optional, Set

from mpdoctor.lint import rules
from mpdoctor.lint.analysis import Module
from mpdoctor.lint.model import SYNTAX_ERROR, Finding

#: ``# mpdoctor: ignore`` or ``# mpdoctor: ignore[slug, slug]``
_IGNORE = re.compile(r"#\s*mpdoctor:\s*ignore(?:\[([a-z0-9,\s-]*)\])?", re.IGNORECASE)
ALL = "*"
#: every rule needs one of these words in the source (a process, pool, executor, queue or
#: fork); a module without any is parsed (for syntax errors) but not analysed further
_RELEVANT = re.compile(r"multiprocessing|concurrent|Pool|Process|fork|Pipe|Queue")


def suppressions(source: str) -> Dict[int, Set[str]]:
    """Line -> slugs silenced on it (``ALL`` for every slug).  Only real comments count, not
    text in strings; the tokenizer runs only when the marker appears at all (rarely)."""
    if "mpdoctor:" not in source.lower():
        return {}
    out: Dict[int, Set[str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type != tokenize.COMMENT:
                continue
            m = _IGNORE.search(tok.string)
            if m is None:
                continue
            slugs = {s.strip() for s in (m.group(1) or "").split(",") if s.strip()}
            out.setdefault(tok.start[0], set()).update(slugs or {ALL})
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


def lint_source(source: bytes | str, path: str = "<stdin>",
                select: Optional[Collection[str]] = None) -> List[Finding]:
    """Findings for one module's source, sorted by position.  ``select``: the slugs to run
    (default: every rule).  A file that does not parse gives one ``syntax-error`` finding."""
    slugs = list(rules.RULES) if select is None else [s for s in rules.RULES if s in select]
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as err:
        line = err.lineno or 1
        col = (err.offset or 1)
        return [Finding(path, line, max(col, 1), SYNTAX_ERROR,
                        f"cannot parse this file: {err.msg}; nothing else was checked")]
    except (ValueError, UnicodeDecodeError) as err:  # null bytes, an undecodable file
        return [Finding(path, 1, 1, SYNTAX_ERROR,
                        f"cannot parse this file: {err}; nothing else was checked")]
    except RecursionError:
        return [Finding(path, 1, 1, SYNTAX_ERROR,
                        "cannot parse this file: it is nested too deeply for the parser; "
                        "nothing else was checked")]
    text = source if isinstance(source, str) else source.decode("utf-8", "replace")
    if not _RELEVANT.search(text):
        return []
    mod = Module(tree, path)
    found: Dict[tuple, Finding] = {}
    for slug, node, message in rules.run(mod, slugs):
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        found.setdefault((line, col, slug), Finding(path, line, col, slug, message))
    silenced = suppressions(text)
    out = [f for f in found.values()
           if not (silenced.get(f.line, set()) & {ALL, f.slug})]
    return sorted(out, key=lambda f: (f.line, f.col, f.slug))
