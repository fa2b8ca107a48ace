"""The registry of diagnoses: every slug mpdoctor can report, and every rule that reports them.

Adding a diagnosis is adding one module under ``mpdoctor/diagnose/``: it declares its slugs with
:func:`slug` (a one-line title, its docs page ``docs/diagnoses/SLUG.md``, and the catalogue
script that shows its fix) and its rule functions with :func:`rule`.  The driver
(``mpdoctor.diagnose.diagnose``) runs the rules of each phase in their declared order; the
modules that hold them are imported on first use (:func:`load`), not with the package: the
watch loads the proof (``waitfor``) as soon as the script's main thread waits, and a program
that never hangs never needs a rule.

A rule is a pure function: it reads the graph (and the snapshot in it) and returns findings; it
never changes the graph.  What a finding explains (``Finding.explains``: the stuck threads,
``Finding.linked``: the hooks' events) is recorded by the driver, and later rules see those
threads as explained and leave them alone.  So the order is the order of specificity: a rule
that names a precise cause runs before a generic one that would describe the same threads.
The orders in use (lower first):

====  =====================================================================================
 10   pickling errors that explain a stuck get() (an item the feeder dropped)
 20   Pool internals (a terminated pool, a dead result handler, a dead worker)
 30   join-before-drain
 40   exit blocked by a child or a feeder
 45   a lock re-entered by the thread that holds it
 50   fork with a lock held
 60   never-signalled primitives
 70   both ends sending
 80   put without a consumer
 90   get without a producer
====  =====================================================================================

When nothing is proven (``Phase.UNPROVEN``, at a timeout): 20 a pool replacing workers that
die as they start, 40 an exit that waits for a child or a thread still moving, 60 a wait on
the outside, 70 a polling loop that nothing can end.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple


class Phase(str, enum.Enum):
    """When a rule runs."""

    #: on a proven deadlock, over the wait-for graph: the findings explain stuck threads
    DEADLOCK = "deadlock"
    #: when nothing is proven: what the tree is doing, to accompany a timeout
    UNPROVEN = "unproven"
    #: from the hooks' events alone, whatever the verdict (an exit 0 included)
    EVENTS = "events"
    #: from the hooks' events, when the script failed (exited non-zero, or was killed): what
    #: failed first in the tree
    CRASH = "crash"


@dataclass(frozen=True)
class SlugInfo:
    slug: str
    title: str  # one line, for the README and docs index
    #: the catalogue script that shows the fix (``case/file.py`` under repro/), or ""
    example: str = ""

    @property
    def docs(self) -> str:
        return f"docs/diagnoses/{self.slug}.md"

    @property
    def repro(self) -> str:
        return f"repro/{self.example}" if self.example else ""


@dataclass(frozen=True)
class Rule:
    name: str  # module.function
    phase: Phase
    order: int
    slugs: Tuple[str, ...]
    func: Callable


SLUGS: Dict[str, SlugInfo] = {}
RULES: List[Rule] = []


def slug(name: str, title: str, example: str = "") -> str:
    """Declare a slug; returns it (``SLUG = slug("join-before-drain", ...)``)."""
    known = SLUGS.get(name)
    if known is not None and known != SlugInfo(name, title, example):
        raise ValueError(f"slug {name!r} declared twice, differently")
    SLUGS[name] = SlugInfo(name, title, example)
    return name


def rule(phase: Phase, order: int, slugs: Tuple[str, ...]) -> Callable[[Callable], Callable]:
    """Declare a rule function of the given phase and order, and the slugs it may report."""
    def register(func: Callable) -> Callable:
        name = f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"
        unknown = [s for s in slugs if s not in SLUGS]
        if unknown:
            raise ValueError(f"rule {name} reports undeclared slugs {unknown}")
        if not any(r.name == name for r in RULES):
            RULES.append(Rule(name, phase, order, tuple(slugs), func))
        return func
    return register


#: modules of the package that hold no rules
HELPERS = frozenset({"closest", "describe", "registry", "stacks", "waitfor"})
_loaded = [False]


def load() -> None:
    """Import every rule module of the package (once): each declares its slugs and rules."""
    if _loaded[0]:
        return
    import importlib
    import pkgutil

    package = importlib.import_module(__name__.rpartition(".")[0])
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in HELPERS:
            importlib.import_module(f"{package.__name__}.{info.name}")
    _loaded[0] = True


def rules(phase: Phase) -> List[Rule]:
    load()
    return sorted((r for r in RULES if r.phase is phase), key=lambda r: (r.order, r.name))
