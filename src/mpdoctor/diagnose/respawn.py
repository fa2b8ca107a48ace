"""``pool-respawn-loop``: a ``multiprocessing.Pool`` keeps replacing workers that die as they
start (an initializer that raises, a module a spawned worker cannot import), so no task ever
runs and the caller's ``map()``/``get()`` waits for ever.

Nothing is stuck (the pool's worker handler keeps starting workers), so there is no proof:
the finding accompanies a ``timeout``.  The evidence is the hooks': every worker the pool saw
exit (``pool-worker-exit``) and why each died (``uncaught``: the same exception, raised at the
same place, in all of them), and the calls still waiting.
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from mpdoctor.diagnose.describe import count, exit_text, who
from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose.waitfor import Graph
from mpdoctor.hooks import protocol
from mpdoctor.model import Event, Finding, Severity, Snapshot

SLUG = slug("pool-respawn-loop",
            "a `Pool` keeps replacing workers that die as they start; its tasks never run "
            "(likely, at a timeout)", "pool_respawn_loop/fix_initializer_reports.py")

#: this many workers of one pool dead the same way make a loop (a pool starts as many
#: workers as it has processes: a first round of deaths could be bad luck, not a loop)
MIN_DEATHS = 3
FIX = ("Make the worker start-up succeed or fail loudly once: catch the error in the "
       "initializer and keep it (a global the tasks check and raise from), or run the check "
       "in the parent before creating the pool; for spawn and forkserver, make everything the "
       "initializer needs importable by a fresh interpreter (a module on sys.path, not one "
       "built at run time). concurrent.futures.ProcessPoolExecutor raises BrokenProcessPool "
       "when its initializer fails, instead of replacing workers for ever.")


def _why(deaths: Sequence[Event], errors: Dict[int, Event]) -> Tuple[str, Optional[Event]]:
    """What the dead workers died of: the commonest exception among them (or exit code)."""
    kinds: Counter = Counter()
    example: Dict[str, Event] = {}
    for d in deaths:
        err = errors.get(int(d.data.get("worker") or 0))
        if err is not None:
            key = f"{err.data.get('error')}\0{err.data.get('site') or ''}"
            example.setdefault(key, err)
        else:
            key = f"\0{exit_text(d.data.get('exitcode'))}"
        kinds[key] += 1
    key, _ = kinds.most_common(1)[0]
    return key, example.get(key)


@rule(Phase.UNPROVEN, 20, (SLUG,))
def check(g: Graph) -> List[Finding]:
    s = g.snapshot
    errors = {e.pid: e for e in s.events if e.kind == protocol.UNCAUGHT}
    guarded = {e.pid for e in s.events if e.kind == protocol.MAIN_GUARD}
    by_pool: Dict[int, List[Event]] = {}
    for e in s.events:
        if e.kind == protocol.POOL_WORKER_EXIT:
            by_pool.setdefault(e.pid, []).append(e)
    out = []
    for pid, deaths in sorted(by_pool.items()):
        if len(deaths) < MIN_DEATHS or pid not in s.by_pid:
            continue
        key, err = _why(deaths, errors)
        same = [d for d in deaths
                if _why([d], errors)[0] == key]
        if len(same) < MIN_DEATHS or len(same) * 2 < len(deaths):
            continue  # workers die of different things: not one start-up failure
        if guarded & {d.data.get("worker") for d in same}:
            continue  # they re-ran the main module's pool code: missing-main-guard says so
        out.append(_finding(s, pid, deaths, same, err))
    return out


def _finding(s: Snapshot, pid: int, deaths: Sequence[Event], same: Sequence[Event],
             err: Optional[Event]) -> Finding:
    first, last = deaths[0], deaths[-1]
    span = max(0.0, last.at - first.at)
    if err is not None:
        at = err.data.get("site")
        what = f"{err.data.get('error')}" + (f" at {at}" if at else "")
        where = err.data.get("where")
        if where == "top":
            how = "before it could run anything (while a spawned interpreter set itself up)"
        elif "pool.py:worker" in (err.data.get("lib") or "") and at:
            how = "in the pool's worker start-up, before its first task (the initializer)"
        else:
            how = "as it started"
    else:
        what = exit_text(same[0].data.get("exitcode"))
        how = "as it started"
    summary = (f"likely: the Pool of {who(s, pid)} keeps replacing workers that die as they "
               f"start ({count(len(same), 'worker')} so far: {what}); its tasks never run")
    evidence = [f"{count(len(deaths), 'worker')} of this pool exited in {span:.1f} s; "
                f"{len(same)} of them died the same way {how}: {what}",
                "the pool's worker handler replaces each one, and the replacement dies the "
                "same way: nothing ever runs a task"]
    if err is not None and err.data.get("where") == "top" and err.data.get("lib"):
        evidence.append(f"it happened in {err.data.get('lib')}")
    pending = [p for p in last.data.get("pending") or () if p.get("left")]
    for p in pending[:3]:
        evidence.append(f"the call at {p.get('site') or '?'} still waits for "
                        f"{count(p.get('left'), 'task')}")
    workers = [d.data.get("worker") for d in same]
    evidence.append("dead workers: " + ", ".join(str(w) for w in workers[:8])
                    + (f" and {len(workers) - 8} more" if len(workers) > 8 else ""))
    # (past a process's first results, only a sample record their site: the first that has)
    site = next((p["site"] for p in pending if p.get("site")), None) or (
        err.data.get("site") if err is not None else None)
    data = {"site": site, "proven": False, "pool": pid, "respawns": len(deaths),
            "error": err.data.get("error") if err is not None else None,
            "error_site": err.data.get("site") if err is not None else None,
            "dead_workers": workers, "pending": pending}
    return Finding(slug=SLUG, severity=Severity.WARNING, summary=summary,
                   evidence=tuple(evidence), fix=FIX, pids=(pid,), data=data,
                   linked=tuple(e for e in s.events if e.kind == protocol.UNCAUGHT
                                and e.pid in set(workers)))
