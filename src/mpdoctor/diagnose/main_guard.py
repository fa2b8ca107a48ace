"""``missing-main-guard``: the main module starts processes at import time, without
``if __name__ == "__main__":``.

Under spawn and forkserver every child imports the main module again; reaching the
process-starting code there raises ``RuntimeError: An attempt has been made to start a new
process before the current process has finished its bootstrapping phase``.  A ``Pool`` then
replaces the dead worker, which dies the same way, forever: the program neither ends nor
moves.  The hooks see each child's attempt and where it came from.
"""

from __future__ import annotations

from typing import Iterable, List

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.hooks import protocol
from mpdoctor.model import Event, Finding, Severity

SLUG = slug("missing-main-guard",
            "spawned children re-run the main module's process-starting code (no `__main__` "
            "guard)", "missing_main_guard/fix_main_guard.py")


@rule(Phase.EVENTS, 20, (SLUG,))
def from_events(events: Iterable[Event], linked: Iterable[Event] = ()) -> List[Finding]:
    hits = [e for e in events if e.kind == protocol.MAIN_GUARD]
    if not hits:
        return []
    first = hits[0]
    site = first.data.get("site")
    pids = sorted({e.pid for e in hits})
    summary = (f"{len(pids)} child process{'es' if len(pids) > 1 else ''} re-ran the main "
               f"module and tried to start processes{f' at {site}' if site else ''}: the "
               "script has no `if __name__ == \"__main__\":` guard")
    main = first.data.get("main") or (site.rsplit(":", 1)[0] if site else None)
    evidence = [f"under spawn and forkserver each child imports the main module "
                f"{f'({main}) ' if main else ''}again; there, the process-starting code "
                "raised 'RuntimeError: An attempt has been made to start a new process before "
                "the current process has finished its bootstrapping phase'",
                f"children that failed this way: {', '.join(map(str, pids[:10]))}"
                + (f" and {len(pids) - 10} more" if len(pids) > 10 else ""),
                "a Pool replaces each dead worker with a new one that fails the same way, so "
                "the program never ends"]
    return [Finding(
        slug=SLUG, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
        fix=("Put the code that starts processes under `if __name__ == \"__main__\":` (and "
             "keep module level free of side effects), so children can import the module."),
        docs=f"docs/diagnoses/{SLUG}.md", pids=tuple(pids),
        data={"site": site, "children": pids, "main": main})]
