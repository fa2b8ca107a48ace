"""Rules for ``multiprocessing.Pool``: results that will never come.

``pool-worker-died``: a worker died (``os._exit``, a signal, the OOM killer) while it held a
task.  Pool starts a replacement but never re-sends the lost task, so ``map()``/``get()`` waits
forever (gh-66587).  The stuck state: the caller waits for a result, every worker of the pool
waits for a task, and the task handler has nothing left to hand out.

``pool-result-handler-died``: the pool's result-handler thread died (typically on a worker's
result or exception that cannot be unpickled in the parent, gh-103061); results are never
delivered and the caller waits forever.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.crashes import KILL_WHY
from mpdoctor.diagnose.describe import describe, who
from mpdoctor.diagnose.waitfor import Graph, collects_without_deadline
from mpdoctor.hooks import protocol
from mpdoctor.model import Event, Finding, Process, Severity, Thread

WORKER_DIED = slug("pool-worker-died", "a `Pool` worker died holding a task; `map()` waits forever",
                   "pool_worker_died/fix_process_pool_executor.py")
HANDLER_DIED = slug("pool-result-handler-died",
                    "the `Pool`'s result-handler thread died; results never arrive",
                    "pool_result_handler_died/fix_picklable_exception.py")
TERMINATED = slug("pool-terminated",
                  "a result is awaited from a `Pool` that was terminated (or left its `with` "
                  "block)",
                  "pool_basics/terminate.py")
POOL = "multiprocessing/pool.py"
WAITS = ["wait", "get", "next", "__next__"]


def _as_file(e: Event) -> str:
    main = e.data.get("main")
    return f" ({main})" if main else ""


def _pool_thread(proc: Process, name: str) -> Optional[Thread]:
    for t in proc.threads:
        if stacks.in_function(t, POOL, [name]):
            return t
    return None


def _workers(g: Graph, proc: Process) -> List[Process]:
    return [c for c in g.snapshot.started_by(proc.pid) if c.state != "Z" and any(
        stacks.in_function(t, POOL, ["worker"]) and len(stacks.own_frames(t)) > 0
        for t in c.threads)]


def _idle(worker: Process) -> bool:
    """The worker waits for its next task (in ``worker`` -> ``get``), not running one."""
    for t in worker.threads:
        frames = stacks.own_frames(t)
        for i, f in enumerate(frames):
            if f.filename.endswith(POOL) and f.function.rsplit(".", 1)[-1] == "worker":
                inner = frames[:i]
                return bool(inner) and any(x.function.rsplit(".", 1)[-1] in ("get", "__enter__")
                                           for x in inner)
    return False


def _replacement(worker: Process) -> bool:
    """Forked by the pool's worker handler to replace a worker that exited."""
    # the first workers are forked from Pool.__init__; replacements from the worker handler
    return any(stacks.in_function(t, POOL, ["_handle_workers", "_maintain_pool"])
               for t in worker.threads)


@rule(Phase.DEADLOCK, 20, (WORKER_DIED, HANDLER_DIED, TERMINATED))
def check(g: Graph) -> List[Finding]:
    findings = []
    for proc, thread in list(g.stuck_threads()):
        entry = stacks.entry_call(thread)
        if not stacks.user_level(thread) or not (
                stacks.in_function(thread, POOL, WAITS)
                or collects_without_deadline(g.snapshot, proc, thread)):
            continue
        f = (_terminated(g, proc, thread) or _handler_died(g, proc, thread)
             or _worker_died(g, proc, thread))
        if f is not None:
            explained = [(proc.pid, t.tid) for t in proc.threads] + [
                (w.pid, t.tid) for w in _workers(g, proc) for t in w.threads]
            findings.append(dataclasses.replace(f, explains=tuple(explained)))
        del entry
    return findings


def _signal_name(num: int) -> str:
    import signal
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _call(thread: Thread) -> str:
    entry = stacks.entry_call(thread)
    site = stacks.user_frame(thread)
    name = entry.function if entry else "a Pool call"
    return f"{name}()" + (f" at {stacks.where(site, False)}" if site else "")


def _terminated(g: Graph, proc: Process, thread: Thread) -> Optional[Finding]:
    """A result waited for after its pool was terminated: nothing is left to set it."""
    if not thread.frames or not stacks.in_function(thread, POOL, ["ApplyResult.get",
                                                               "ApplyResult.wait", "get",
                                                               "wait", "next"]):
        return None
    if any(_pool_thread(proc, name) for name in ("_handle_workers", "_handle_tasks",
                                                  "_handle_results")):
        return None
    if _workers(g, proc):
        return None
    s = g.snapshot
    site = stacks.user_frame(thread)
    summary = (f"{who(s, proc.pid)} waits in {_call(thread)} for a result that will never be "
               "set: its pool was terminated (or closed and joined) while the task was pending")
    evidence = [describe(s, proc, thread),
                "no thread of the pool (task, result or worker handler) and no pool worker is "
                "left: terminate() killed the workers and dropped the pending tasks, and nothing "
                "tells the result (leaving `with Pool() as pool:` calls terminate() too)"]
    fix = ("Collect every result you need before terminate() or the end of the `with Pool()` "
           "block, or use get(timeout=...).")
    data = {"site": stacks.site(site), "caller": {"pid": proc.pid, "tid": thread.tid,
                       "site": stacks.site(site)}}
    return Finding(slug=TERMINATED, severity=Severity.ERROR, summary=summary,
                   evidence=tuple(evidence), fix=fix, docs=f"docs/diagnoses/{TERMINATED}.md",
                   pids=(proc.pid,), data=data)


def _handler_died(g: Graph, proc: Process, thread: Thread) -> Optional[Finding]:
    if _pool_thread(proc, "_handle_results") is not None:
        return None
    if not (_pool_thread(proc, "_handle_workers") or _pool_thread(proc, "_handle_tasks")):
        return None  # not a Pool (or no stacks)
    s = g.snapshot
    site = stacks.user_frame(thread)
    evidence = [describe(s, proc, thread),
                "the pool's result-handler thread (Pool._handle_results) is gone, while its task "
                "and worker handlers are still there: it died on an exception (printed above as "
                "'Exception in thread ... (_handle_results)'), so no result is delivered any more"]
    for e in s.events:
        if (e.kind == protocol.THREAD_EXCEPTION and e.pid == proc.pid
                and "_handle_results" in str(e.data.get("thread"))):
            evidence.append(f"the exception that killed it: {e.data.get('error')}")
    summary = (f"{who(s, proc.pid)} waits in {_call(thread)} for results the pool can no longer "
               "deliver: its result-handler thread died")
    fix = ("Make what workers return or raise picklable: an exception class must pass all its "
           "constructor arguments to super().__init__() (or define __reduce__), and results "
           "must not hold locks, sockets or open files. concurrent.futures.ProcessPoolExecutor "
           "reports such failures instead of hanging.")
    data = {"site": stacks.site(site), "caller": {"pid": proc.pid, "tid": thread.tid,
                       "site": stacks.site(site)}}
    return Finding(slug=HANDLER_DIED, severity=Severity.ERROR, summary=summary,
                   evidence=tuple(evidence), fix=fix,
                   docs=f"docs/diagnoses/{HANDLER_DIED}.md", pids=(proc.pid,), data=data)


def _worker_died(g: Graph, proc: Process, thread: Thread) -> Optional[Finding]:
    s = g.snapshot
    workers = _workers(g, proc)
    tasks = _pool_thread(proc, "_handle_tasks")
    if not workers or tasks is None or not all(_idle(w) for w in workers):
        return None
    if stacks.in_function(tasks, "multiprocessing/queues.py", ["put", "_send_bytes"]):
        return None  # tasks are still being handed out
    site = stacks.user_frame(thread)
    replaced = [w.pid for w in workers if _replacement(w)]
    deaths = [e for e in s.events if e.kind == protocol.POOL_WORKER_EXIT and e.pid == proc.pid]
    # workers that died because they could not even unpickle their task (what they say on
    # stderr: "Can't get attribute 'square' on <module '__mp_main__'>")
    unpickled = [e for e in s.events if e.kind == protocol.UNPICKLE_ERROR
                 and e.data.get("op") == "Pool task"]
    evidence = [describe(s, proc, thread),
                f"all {len(workers)} workers of the pool are idle, waiting for a task "
                f"({', '.join(str(w.pid) for w in workers)}), and the task handler has no task "
                "left to hand out: a task that was taken is lost"]
    if unpickled:
        e = unpickled[0]
        dead = sorted({u.pid for u in unpickled})
        evidence.append(f"worker{'s' if len(dead) > 1 else ''} {', '.join(map(str, dead[:6]))}"
                        f"{' ...' if len(dead) > 6 else ''} could not unpickle the task "
                        f"{'they' if len(dead) > 1 else 'it'} took: {e.data.get('error')}; a "
                        "function is sent by its name, and a child that imports the main "
                        f"module{_as_file(e)} as __mp_main__ (spawn, forkserver) never runs "
                        "what is under `if __name__ == \"__main__\":`, so a function defined "
                        "there does not exist in the child")
    elif replaced:
        evidence.append(f"worker{'s' if len(replaced) > 1 else ''} "
                        f"{', '.join(map(str, replaced))} {'were' if len(replaced) > 1 else 'was'} "
                        "started by the pool's worker handler to replace a worker that exited: "
                        "the worker that held the lost task died (os._exit, a signal or the OOM "
                        "killer), and Pool never re-sends a lost task")
    elif not deaths:
        evidence.append("a worker that held a task died (os._exit, a signal or the OOM killer) "
                        "and Pool never re-sends a lost task")
    for e in deaths[:5]:
        code = e.data.get("exitcode")
        how = (f"was killed by {_signal_name(-code)}" + (KILL_WHY if code == -9 else "")
               if isinstance(code, int) and code < 0 else f"exited with status {code}")
        if unpickled and any(u.pid == e.data.get("worker") for u in unpickled):
            how += " (it could not unpickle its task, above)"
        pending = [p for p in e.data.get("pending") or () if p.get("left")]
        waiting = "; ".join(
            f"the call at {p.get('site') or '?'} still waited for {p.get('left')} "
            f"task{'s' if p.get('left') != 1 else ''}" for p in pending[:3])
        evidence.append(f"worker {e.data.get('worker')} {how} while it held a task"
                        + (f" ({waiting})" if waiting else "")
                        + "; the pool replaced it and never re-sent that task")
    summary = (f"{who(s, proc.pid)} waits in {_call(thread)} for a result that will never come: "
               "a pool worker died while running a task")
    if unpickled:
        fix = ("Define the function (and every class the tasks use) at module level, outside "
               "`if __name__ == \"__main__\":`, in a module the workers can import; keep only "
               "the code that starts the pool under the guard.")
    else:
        fix = ("Find out why the worker died (an exit code or a signal: native code, os._exit, "
               "the OOM killer) and fix that; meanwhile use "
               "concurrent.futures.ProcessPoolExecutor, which raises BrokenProcessPool instead "
               "of waiting forever, or get results with a timeout "
               "(map_async(...).get(timeout=...)).")
    data = {"site": stacks.site(site), "caller": {"pid": proc.pid, "tid": thread.tid,
                       "site": stacks.site(site)},
            "workers": [w.pid for w in workers], "replacements": replaced,
            "dead_workers": [{"pid": e.data.get("worker"), "exitcode": e.data.get("exitcode")}
                             for e in deaths],
            "unpickling_errors": [{"pid": u.pid, "error": u.data.get("error")}
                                  for u in unpickled]}
    return Finding(slug=WORKER_DIED, severity=Severity.ERROR, summary=summary,
                   evidence=tuple(evidence), fix=fix, docs=f"docs/diagnoses/{WORKER_DIED}.md",
                   pids=tuple([proc.pid] + [w.pid for w in workers]), data=data)
