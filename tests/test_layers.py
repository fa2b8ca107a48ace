"""No import goes against the flow of data: launch (run/) -> watch -> snapshot (observe/) ->
diagnose (diagnose/) -> report (report/).  A later stage reads the data of the earlier ones
(the model), never their machinery; and the code that runs inside the user's processes
(hooks/) imports nothing of mpdoctor outside hooks/."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Set

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mpdoctor"

#: the data everyone may read
BASE = {"model", "outcome", "fdtargets", "errors", "exitcodes", "debug", "libraries", "record",
        "__init__"}
#: base modules that may use the hooks' stdlib-only helpers (the one debug channel)
BASE_USES_HOOKS = {"debug"}
#: layer -> the layers it may import besides itself and BASE
ALLOWED: Dict[str, Set[str]] = {
    "hooks": set(),
    "base": set(),
    "observe": {"hooks"},  # the event protocol and the hooks' own stack format
    "diagnose": set(),
    "report": {"diagnose"},
    "run": {"observe", "diagnose", "hooks"},
    "lint": set(),
}


#: modules anyone may import: the event protocol is the schema of data the hooks send
SHARED = {"mpdoctor.hooks.protocol"}


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    head = parts[1]
    return "base" if head in BASE else head


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("mpdoctor"):
                # `from mpdoctor.hooks import protocol` imports the module mpdoctor.hooks.protocol
                names = [f"{node.module}.{a.name}" for a in node.names]
                if all(n in SHARED for n in names):
                    continue
                yield node.module, node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("mpdoctor"):
                    yield a.name, node.lineno


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_flow(path):
    rel = path.relative_to(SRC).with_suffix("")
    module = ".".join(("mpdoctor", *rel.parts)).removesuffix(".__init__")
    layer = _layer(module)
    if layer not in ALLOWED:
        return  # the entry points (cli, the pytest plugin, explain, catalogue) use anything
    allowed = {layer, "base"} | ALLOWED[layer]
    if module.split(".")[-1] in BASE_USES_HOOKS:
        allowed.add("hooks")
    for target, line in _imports(path):
        if target == "mpdoctor" or target in SHARED:
            continue
        assert _layer(target) in allowed, (
            f"{module}:{line} imports {target}: {layer}/ may import only "
            f"{sorted(allowed)}")
