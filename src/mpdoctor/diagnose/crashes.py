"""What failed first, when the script failed: ``broken-process-pool``, ``child-exception`` and
``process-killed``, from the hooks' events alone (the tree is gone by then).

The hooks tell

* ``uncaught``: the exception that ended an interpreter (``where: top``) or a multiprocessing
  Process's target (``target``: multiprocessing prints it and the child exits with status 1),
  with the classes of the exception, where it was raised, and the traceback of the worker it
  came from when it was re-raised (a Pool's ``RemoteTraceback``, a ProcessPoolExecutor's);
* ``child-exit``: a parent learned that a child it started ended with a non-zero exit code
  (``-N``: killed by signal N).

One finding per failure, the first failure first: a pool that broke (its dead workers are its
evidence, not findings of their own), then exceptions raised in children, then children killed
by a signal.  A script that fails in its own code, with no child involved, gets none: its
traceback already says everything.
"""

from __future__ import annotations

import dataclasses
import re
import signal
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mpdoctor.diagnose.registry import Phase, rule, slug
from mpdoctor.hooks import protocol
from mpdoctor.model import Event, Finding, OomFacts, Severity

BROKEN = slug("broken-process-pool",
              "a process pool broke: a worker died (killed, or its initializer failed) and "
              "the pool raised `BrokenProcessPool`", "broken_process_pool/fix_load_in_parent.py")
RAISED = slug("child-exception",
              "an exception raised in a child process made the script fail",
              "child_exception/fix_report_errors.py")
KILLED = slug("process-killed",
              "a child process was killed by a signal (a crash in native code, or SIGKILL: "
              "by the OOM killer or not)",
              "process_killed/fix_valid_pointer.py")

NOT_FOUND = slug("function-not-found-in-child",
                 "a spawned child cannot find a function by name: it was defined under the "
                 "`__main__` guard or interactively", "function_not_found/fix_module_level.py")
DAEMONIC = slug("daemon-with-children",
                "a daemonic process (a Pool worker, a `daemon=True` Process) tried to start a "
                "child", "daemon_with_children/fix_not_daemonic.py")
MISUSE = slug("pool-misuse",
              "a `Pool` was used after `close()`/`terminate()` or after its `with` block",
              "pool_misuse/fix_use_inside_with.py")
MANAGER = slug("manager-died",
               "a `Manager` proxy was used after its manager process shut down or died",
               "manager_died/fix_keep_manager_alive.py")
SHARED = slug("shared-state-gone",
              "shared state (a `SharedMemory` block) was destroyed by another process while "
              "still in use", "shared_state_gone/fix_unlink_once.py")

#: the signals that end a process that did not ask for it: a crash in native code, or SIGKILL
#: (the out-of-memory killer, say).  SIGTERM, SIGINT and SIGHUP are how programs stop their
#: children (Process.terminate(), a Pool's terminate() on the way out of a with block)
CRASH_SIGNALS = {int(getattr(signal, name)) for name in (
    "SIGKILL", "SIGSEGV", "SIGBUS", "SIGABRT", "SIGFPE", "SIGILL", "SIGSYS", "SIGXCPU",
    "SIGXFSZ") if hasattr(signal, name)}
#: a frame line of a formatted traceback
_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)', re.M)
#: paths of the Python installation and its packages, in a traceback's text
_LIBRARY = re.compile(r"/lib/python\d[^/]*/|/site-packages/|/dist-packages/|^<")


#: who may send a SIGKILL, until the kernel's word on it is read (``with_oom``)
KILL_WHY = " (sent by another process, or by the kernel's out-of-memory killer)"


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _exit_text(code: int) -> str:
    if code < 0:
        name = signal_name(-code)
        why = {"SIGKILL": KILL_WHY,
               "SIGSEGV": " (a crash in native code: a C extension, ctypes)",
               "SIGABRT": " (an abort in native code: a failed assertion in a C library)",
               "SIGBUS": " (a crash in native code)"}.get(name, "")
        return f"was killed by {name}{why}, exit code {code}"
    return f"exited with status {code}"


def remote_frame(text: str, hint: Optional[str] = None) -> Optional[str]:
    """The user's line (file:line) in a worker's formatted traceback: the innermost frame
    outside the Python installation and its packages (in ``hint``'s file, if any is)."""
    frames = [(path, int(line)) for path, line in _FRAME.findall(text)]
    user = [f for f in frames if not _LIBRARY.search(f[0])]
    if hint:
        same = [f for f in user if f[0] == hint.rsplit(":", 1)[0]]
        user = same or user
    return f"{user[-1][0]}:{user[-1][1]}" if user else None


def remote_error(text: str) -> Optional[str]:
    """The exception line of a formatted traceback (its last non-blank line)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _uncaught(events: Iterable[Event], where: str) -> List[Event]:
    return sorted((e for e in events if e.kind == protocol.UNCAUGHT
                   and e.data.get("where") == where), key=lambda e: e.at)


def _exits(events: Iterable[Event]) -> List[Event]:
    return sorted((e for e in events if e.kind == protocol.CHILD_EXIT), key=lambda e: e.at)


def _types(e: Event) -> Set[str]:
    return set(str(e.data.get("types") or "").split())


def _at(site: Optional[str]) -> str:
    return f" at {site}" if site else ""


# -- failures with a name of their own: what the exception says, and where it came from -------

def _lib(e: Event) -> str:
    return str(e.data.get("lib") or "")


def _texts(e: Event) -> str:
    return f"{e.data.get('error') or ''}\n{e.data.get('remote') or ''}"


def _kind_of(e: Event) -> Optional[str]:
    """The named failure an ``uncaught`` or ``unpickle-error`` event is, if any."""
    text = _texts(e)
    # "Can't get attribute 'f' on <module '__mp_main__' ...>" up to 3.13; from 3.14 pickle
    # says "module '__mp_main__' has no attribute 'f'"
    if (("Can't get attribute" in text or "has no attribute" in text)
            and ("__mp_main__" in text or "'__main__'" in text)):
        return NOT_FOUND
    if "daemonic processes are not allowed to have children" in text:
        return DAEMONIC
    if e.kind != protocol.UNCAUGHT:
        return None
    lib, types = _lib(e), _types(e)
    if "multiprocessing/pool.py:_check_running" in lib or "Pool not running" in text:
        return MISUSE
    if "multiprocessing/shared_memory.py:" in lib and "FileNotFoundError" in types:
        return SHARED
    if "multiprocessing/managers.py:" in lib and types & {"OSError", "EOFError"}:
        return MANAGER
    return None


@rule(Phase.CRASH, 5, (NOT_FOUND, DAEMONIC, MISUSE, MANAGER, SHARED))
def named_failures(events: Sequence[Event], found: Sequence[Finding] = ()) -> List[Finding]:
    """One finding per kind of named failure, from its first event; the events it stands for
    are linked to it, so the generic rule below leaves them alone."""
    hits = sorted((e for e in events if e.kind in (protocol.UNCAUGHT, protocol.UNPICKLE_ERROR)),
                  key=lambda e: e.at)
    by_kind: dict = {}
    for e in hits:
        kind = _kind_of(e)
        if kind is not None:
            by_kind.setdefault(kind, []).append(e)
    out = [_named(kind, evs) for kind, evs in by_kind.items()]
    return sorted(out, key=lambda f: min(e.at for e in f.linked))


_NAMED = {
    NOT_FOUND: (
        "a child process could not find a function (or class) by name",
        "Under spawn and forkserver a child gets the function by name and imports the main "
        "module as __mp_main__, without running what is under `if __name__ == \"__main__\":`. "
        "Define the function (and classes the work uses) at module level, outside the guard, "
        "or in a module of its own; in a notebook or an interactive session, put it in a "
        "module and import it."),
    DAEMONIC: (
        "a daemonic process tried to start a child of its own",
        "Pool workers and processes started with daemon=True may not have children (they are "
        "killed at exit, and their children would be orphaned). Start the children from the "
        "parent; or, for nested parallelism, use a ProcessPoolExecutor (its workers are not "
        "daemonic) or a non-daemonic Process that you join."),
    MISUSE: (
        "a Pool was used after it was closed or terminated",
        "A Pool accepts work only between its creation and close()/terminate(); leaving "
        "`with Pool() as pool:` calls terminate(). Submit all work and collect every result "
        "inside the with block (or before close()), and do not return the pool or a lazy "
        "result from inside the block."),
    MANAGER: (
        "a Manager's proxy was used after the manager process was gone",
        "A Manager's dict, list or Queue lives in the manager's server process: when that "
        "process ends (its `with` block was left, shutdown() was called, the process was "
        "killed or died), every proxy fails. Keep the manager running until the last proxy "
        "use (join the workers inside its `with` block), copy the data out (dict(proxy)) "
        "before it ends, and treat its death (SIGKILL by the OOM killer) as fatal."),
    SHARED: (
        "shared memory was destroyed by another process while still in use",
        "unlink() removes a SharedMemory block's name for every process: call it once, in the "
        "process that created the block, after every user has attached (or finished); the "
        "others only close(). Pass the block's name to workers that attach before it is "
        "unlinked."),
}


def _named(kind: str, evs: List[Event]) -> Finding:
    first = evs[0]
    title, fix = _NAMED[kind]
    error = str(first.data.get("error"))
    remote = first.data.get("remote")
    if remote and kind == DAEMONIC:
        error = remote_error(str(remote)) or error
    site = first.data.get("site")
    if remote:
        site = remote_frame(str(remote), site) or site
    who = f"process {first.pid}"
    if first.data.get("process"):
        who += f" ({first.data['process']})"
    summary = f"{title}: {who} failed{_at(site)} with {error}"
    evidence = [f"{who}: {error}{_at(site)}"
                + (f" (in {_lib(first).split()[-1]})" if _lib(first) else "")]
    others = sorted({e.pid for e in evs[1:]} - {first.pid})
    if others:
        evidence.append(f"the same in {len(others)} more processes: "
                        + ", ".join(map(str, others[:10])))
    if remote:
        evidence.append("it was raised in a worker process, whose traceback ends:")
        evidence.extend("    " + line for line in str(remote).strip().splitlines()[-6:])
    return Finding(
        slug=kind, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
        fix=fix,
        pids=tuple(sorted({e.pid for e in evs})),
        data={"site": site, "pid": first.pid, "error": error,
              "processes": sorted({e.pid for e in evs})},
        linked=tuple(evs))


# -- what failed first, in general --------------------------------------------------------

@rule(Phase.CRASH, 10, (BROKEN, RAISED, KILLED))
def first_failure(events: Sequence[Event], found: Sequence[Finding] = ()) -> List[Finding]:
    findings: List[Tuple[float, Finding]] = []
    told = {id(e) for f in found for e in f.linked}
    events = [e for e in events if id(e) not in told]
    exits = _exits(events)
    covered: Set[int] = set()  # children a finding already accounts for
    for f in found:  # the processes of a named failure died of it: no second finding
        if f.slug in _NAMED:
            covered.update(f.pids)
    for e in _uncaught(events, "top"):
        if "BrokenProcessPool" in _types(e):
            findings.append((e.at, _broken(e, exits)))
            covered.update(int(x.data["child"]) for x in exits)
            break
    for e in _uncaught(events, "top"):
        remote = e.data.get("remote")
        if remote and "BrokenProcessPool" not in _types(e):
            findings.append((e.at, _reraised(e, str(remote))))
            break
    targets = [e for e in _uncaught(events, "target") if e.pid not in covered]
    if targets:
        first = targets[0]
        findings.append((first.at, _target(first, targets, exits)))
        covered.update(e.pid for e in targets)
    killed = [x for x in exits if -int(x.data["exitcode"]) in CRASH_SIGNALS
              and int(x.data["child"]) not in covered]
    if killed:
        findings.append((killed[0].at, _killed(killed)))
    return [f for _, f in sorted(findings, key=lambda pair: pair[0])]


def _broken(e: Event, exits: List[Event]) -> Finding:
    error = str(e.data.get("error"))
    site = e.data.get("site")
    evidence = [f"process {e.pid} failed{_at(site)} with {error}"]
    dead = [(int(x.data["child"]), int(x.data["exitcode"]), x.pid) for x in exits]
    for child, code, parent in dead[:5]:
        evidence.append(f"worker {child} (a child of process {parent}) {_exit_text(code)}")
    if len(dead) > 5:
        evidence.append(f"... and {len(dead) - 5} more workers that exited with an error")
    if not dead:
        evidence.append("no worker was seen ending with an error code: a worker whose "
                        "initializer raised ends this way (its traceback, after 'Exception in "
                        "initializer', is on stderr), as does one that called os._exit(0); "
                        "a pool that is not multiprocessing's own (loky's) gives its workers' "
                        "exit codes in the error above")
    killed = [code for _, code, _ in dead if code < 0]
    summary = (f"a process pool broke{_at(site)}: one of its workers died "
               + (f"({_exit_text(killed[0])})" if killed else "before returning its result")
               + f", and the pool raised {error.split(':', 1)[0]}")
    fix = ("A broken pool cannot be used any more: find out why the worker died. A worker "
           "killed by SIGKILL is usually the kernel's out-of-memory killer (see `dmesg`, "
           "the container's memory limit): use fewer workers or smaller tasks. An initializer "
           "that raises kills every worker it starts: catch and report errors inside it. A "
           "crash in native code (SIGSEGV) needs faulthandler in the worker to show where. "
           "Then create a new pool, or catch BrokenProcessPool and retry the lost tasks.")
    return Finding(
        slug=BROKEN, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
        fix=fix,
        pids=tuple(sorted({e.pid, *(child for child, _, _ in dead)})),
        data={"site": site, "pid": e.pid, "error": error,
              "workers": [{"pid": child, "exitcode": code, "parent": parent}
                          for child, code, parent in dead]})


def _reraised(e: Event, remote: str) -> Finding:
    site = e.data.get("site")
    where = remote_frame(remote, site)
    error = remote_error(remote) or str(e.data.get("error"))
    summary = (f"a worker process raised {error}{_at(where)}; process {e.pid} re-raised it"
               f"{_at(site)} and failed")
    evidence = [f"process {e.pid} ended with {e.data.get('error')}{_at(site)}",
                "it was raised in a worker process and sent back with its traceback, whose "
                "last lines are:"]
    evidence.extend("    " + line for line in remote.strip().splitlines()[-8:])
    fix = ("The worker's exception is the error to fix (its traceback above). To keep going "
           "when a task fails, catch the exception inside the task and return an error value, "
           "or collect results one by one (apply_async/submit and .get()/.result() in a "
           "try block) so one failing task does not end the whole map().")
    return Finding(
        slug=RAISED, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
        fix=fix, pids=(e.pid,),
        data={"site": where or site, "pid": e.pid, "error": error, "reraised_at": site,
              "worker_site": where})


def _target(first: Event, targets: List[Event], exits: List[Event]) -> Finding:
    site = first.data.get("site")
    name = first.data.get("process")
    error = str(first.data.get("error"))
    who = f"child {first.pid}" + (f" ({name})" if name else "")
    summary = f"{who} raised {error}{_at(site)}, and the script failed"
    evidence = [f"{who}: its target raised {error}{_at(site)}; multiprocessing printed the "
                "traceback to stderr and the child exited with status 1"]
    for x in exits:
        if int(x.data["child"]) == first.pid:
            evidence.append(f"process {x.pid}, its parent, saw it exit with status "
                            f"{x.data['exitcode']}")
    others = sorted({e.pid for e in targets[1:]})
    if others:
        evidence.append(f"{len(others)} more children raised too: "
                        + ", ".join(map(str, others[:10])))
    fix = ("Fix the exception in the child (its traceback is on stderr, above). To make the "
           "parent report it instead of a bare exit code, catch it in the child and send it "
           "back (a Queue or Pipe), or use a Pool/ProcessPoolExecutor, whose result re-raises "
           "the worker's exception with its traceback in the parent.")
    return Finding(
        slug=RAISED, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
        fix=fix,
        pids=tuple(sorted({e.pid for e in targets})),
        data={"site": site, "pid": first.pid, "process": name, "error": error,
              "children": sorted({e.pid for e in targets})})


def _killed(killed: List[Event]) -> Finding:
    first = killed[0]
    child, code = int(first.data["child"]), int(first.data["exitcode"])
    summary = f"child {child} {_exit_text(code)}, and the script failed"
    evidence = [f"process {x.pid} saw its child {x.data['child']} end: it "
                f"{_exit_text(int(x.data['exitcode']))}" for x in killed[:5]]
    if len(killed) > 5:
        evidence.append(f"... and {len(killed) - 5} more children killed by a signal")
    fix = ("A signal ended the child before Python could report anything. For SIGSEGV or "
           "SIGABRT, run the child with faulthandler enabled (`python -X faulthandler`, or "
           "faulthandler.enable() at the top of its target) to see the native crash's Python "
           "stack; for SIGKILL, look for the out-of-memory killer (`dmesg`) or whoever sent "
           "it. Check `p.exitcode` after `join()`: a negative value is the signal's number.")
    return Finding(
        slug=KILLED, severity=Severity.ERROR, summary=summary, evidence=tuple(evidence),
        fix=fix,
        pids=tuple(sorted({int(x.data["child"]) for x in killed})),
        data={"site": None, "pid": child, "exitcode": code,
              "signal": signal_name(-code),
              "children": [{"pid": int(x.data["child"]), "exitcode": int(x.data["exitcode"]),
                            "parent": x.pid} for x in killed]})


# -- who sent the SIGKILL ------------------------------------------------------------------------

#: where a finding lists its dead processes (each with "pid" and "exitcode")
_DEAD = {KILLED: "children", BROKEN: "workers", "pool-worker-died": "dead_workers"}


def _sigkilled(f: Finding) -> List[int]:
    key = _DEAD.get(f.slug)
    return [int(d["pid"]) for d in f.data.get(key) or ()
            if d.get("exitcode") == -9 and d.get("pid")] if key else []


def needs_oom(findings: Sequence[Finding]) -> bool:
    """Does a finding name a process killed by SIGKILL (whose sender the kernel may know)?"""
    return any(_sigkilled(f) for f in findings)


def with_oom(findings: Sequence[Finding], oom: Optional[OomFacts]) -> List[Finding]:
    """The findings, with what the kernel says about each process of theirs killed by SIGKILL:
    the OOM killer did it (the kernel log names it; or its memory cgroup counted an OOM kill
    during the run), or it did not (the log names no such kill and the cgroup counted none),
    or that could not be read."""
    if oom is None:
        return list(findings)
    out = []
    for f in findings:
        dead = _sigkilled(f)
        if not dead or "oom" in f.data:
            out.append(f)
            continue
        evidence, verdicts = _oom_lines(dead, oom)
        data = {**f.data, "oom": verdicts}
        summary, fix = f.summary, f.fix
        said = {"oom-killer": " (by the kernel's out-of-memory killer)",
                "not-oom-killer": " (sent by another process: not the out-of-memory killer)"}
        known = {said[v] for v in verdicts.values() if v in said}
        if len(known) == 1:  # (all the same: the text can say it)
            [why] = known
            summary = summary.replace(KILL_WHY, why)
            evidence = [e.replace(KILL_WHY, why) for e in f.evidence] + evidence
        else:
            evidence = list(f.evidence) + evidence
        if any(v == "oom-killer" for v in verdicts.values()):
            fix = ("The kernel ran out of memory for the script: use fewer worker processes, "
                   "smaller tasks and results (imap() or chunks, rather than map() of a big "
                   "list), free memory before forking, or raise the memory limit of the "
                   "container or cgroup. " + fix)
        out.append(dataclasses.replace(f, summary=summary, fix=fix,
                                       evidence=tuple(evidence), data=data))
    return out


def _oom_lines(dead: List[int], oom: OomFacts) -> Tuple[List[str], Dict[str, str]]:
    lines: List[str] = []
    verdicts: Dict[str, str] = {}
    counted = oom.counted
    for pid in dead[:5]:
        line = (oom.kernel or {}).get(pid)
        if line is not None:
            lines.append(f"the kernel's OOM killer killed process {pid}: \"{line}\" "
                         "(kernel log)")
            verdicts[str(pid)] = "oom-killer"
        elif counted and oom.before is not None and oom.after is not None:
            lines.append(f"the script's memory cgroup counted {counted} OOM "
                         f"kill{'s' if counted != 1 else ''} during the run ({oom.after.path}: "
                         f"oom_kill {oom.before.value} -> {oom.after.value}): the OOM killer "
                         f"most likely killed process {pid}")
            verdicts[str(pid)] = "oom-killer-likely"
        elif oom.kernel is not None and counted == 0:
            lines.append(f"not the OOM killer: the kernel log names no OOM kill of process "
                         f"{pid}, and the script's memory cgroup counted none during the run; "
                         "the SIGKILL came from a process (kill -9, Process.kill(), a "
                         "supervisor or a test runner's timeout)")
            verdicts[str(pid)] = "not-oom-killer"
        elif oom.kernel is not None:
            lines.append(f"the kernel log names no OOM kill of process {pid} (the memory "
                         "cgroup's counter could not be read)")
            verdicts[str(pid)] = "not-in-kernel-log"
        else:
            lines.append(f"whether the OOM killer killed process {pid} is not known: could not "
                         f"read {' or '.join(oom.unreadable)} (the kernel log needs root or "
                         "kernel.dmesg_restrict=0)")
            verdicts[str(pid)] = "unknown"
    return lines, verdicts
