"""The rules.  Each module here defines one rule, registered with ``@rule``; importing this
package imports them all, so adding a rule is adding a file (and its docs section)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from mpdoctor.lint.analysis import Module
from mpdoctor.lint.model import Rule

#: what a rule yields: the node to point at, and the message
Hit = Tuple[ast.AST, str]
Check = Callable[[Module], Iterable[Hit]]

RULES: Dict[str, Rule] = {}
CHECKS: Dict[str, Check] = {}


def rule(slug: str, summary: str, runtime: Optional[str] = None) -> Callable[[Check], Check]:
    """Register ``check`` as the rule ``slug``; ``runtime`` is the diagnosis of
    ``mpdoctor check`` that the rule anticipates, where there is one."""

    def register(check: Check) -> Check:
        if slug in RULES:
            raise ValueError(f"two rules named {slug!r}")
        RULES[slug] = Rule(slug, summary, runtime)
        CHECKS[slug] = check
        return check

    return register


def run(mod: Module, slugs: Iterable[str]) -> Iterator[Tuple[str, ast.AST, str]]:
    for slug in slugs:
        for node, message in CHECKS[slug](mod):
            yield slug, node, message


def _load() -> List[str]:
    names = sorted(info.name for info in pkgutil.iter_modules(__path__))
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return names


_load()
