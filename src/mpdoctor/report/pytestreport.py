"""Text for the pytest plugin: a test's failure report after a verdict, its one-line message,
leaked processes, and the child stacks added to pytest-timeout's dump.  Plain lines, no logic
about what to do; the plugin decides where they go."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from mpdoctor import explain
from mpdoctor.diagnose import stacks
from mpdoctor.model import Diagnosis, Dump, Frame, Snapshot, Thread
from mpdoctor.report import Report, console

try:
    from typing import Protocol
except ImportError:  # Python < 3.8 has no Protocol; only type checkers read it
    Protocol = object  # type: ignore[assignment,misc]


class Verdict(Protocol):
    """What these renderers need of a verdict the plugin's watch reached."""

    @property
    def kind(self) -> str: ...

    @property
    def diagnosis(self) -> Diagnosis: ...

    @property
    def snapshot(self) -> Snapshot: ...

    @property
    def after(self) -> float: ...

    @property
    def proof_seconds(self) -> float: ...

    @property
    def library(self) -> Dict[int, str]: ...

    @property
    def targets(self) -> List[Tuple[int, int]]: ...

    @property
    def stopped(self) -> List[int]: ...

    @property
    def notes(self) -> List[str]: ...

    @property
    def done(self) -> Any: ...  # a threading.Event


def headline(verdict: Verdict, timeout: Optional[float] = None) -> str:
    if verdict.kind == "deadlock":
        return ("mpdoctor: DEADLOCK proven: nothing in the test's process tree can ever move "
                f"again (proven {verdict.after:.1f} s into the test)")
    return (f"mpdoctor: TIMEOUT after {timeout or verdict.after:g} s: the test did not finish, "
            "and no deadlock was proven (something may still be able to move)")


def message(verdict: Verdict, timeout: Optional[float] = None) -> str:
    """One line: what a JUnit ``failure message`` or pytest's short summary shows."""
    findings = verdict.diagnosis.findings
    if verdict.kind == "deadlock" and findings:
        first = findings[0]
        more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
        refs = "; ".join(f"{k}: {v}" for k, v in explain.refs(first).items())
        return f"mpdoctor: DEADLOCK [{first.slug}] {first.summary}{more} ({refs})"
    if verdict.kind == "deadlock":
        return "mpdoctor: DEADLOCK proven (no known pattern)"
    return (f"mpdoctor: TIMEOUT after {timeout or verdict.after:g} s, no deadlock proven")


def location(verdict: Verdict) -> Optional[Tuple[str, int]]:
    """The user's line the test's main thread was stuck at, if its stack is known."""
    root = verdict.snapshot.root
    thread = root.main_thread if root is not None else None
    with stacks.using(verdict.snapshot):
        frame = stacks.user_frame(thread) if thread is not None else None
    return (frame.filename, frame.line) if frame is not None else None


def verdict_lines(verdict: Verdict, timeout: Optional[float] = None) -> List[str]:
    """The full report: headline, findings with evidence and fix, the wait-for chain, every
    process and thread, and what mpdoctor did about it."""
    report = Report(verdict=verdict.kind, exit_code=0, diagnosis=verdict.diagnosis,
                    snapshot=verdict.snapshot, duration=verdict.after,
                    proof_seconds=verdict.proof_seconds, timeout=timeout)
    body = [t.plain for t in console.render(report)]
    body = body[1:-1]  # the script's headline and exit status do not apply to a test
    while body and not body[-1].strip():
        body.pop()
    root = verdict.snapshot.root_pid
    out = [headline(verdict, timeout),
           f"  (main process {root} is the pytest process that runs the test, in its main "
           "thread)"]
    out.extend(body)
    for tid, why in sorted(verdict.library.items()):
        out.append(f"note: left out of the proof: thread {tid}, {why}")
    for note in verdict.notes:
        out.append(f"note: {note}")
    out.append("")
    done = "stopped" if verdict.done.is_set() else "is stopping"
    pids = [pid for pid, _ in verdict.targets]
    action = "mpdoctor interrupted the test's main thread"
    if pids:
        action += (f" and {done} {len(pids)} process{'es' if len(pids) != 1 else ''} the test "
                   f"had started ({', '.join(map(str, pids[:12]))}"
                   f"{', ...' if len(pids) > 12 else ''})")
    out.append(action + ".")
    return out


# --------------------------------------------------------------------------------------------
# stacks of processes outside any verdict (leaks, pytest-timeout's dump)


def _frame_lines(frames: Sequence[Frame], indent: str) -> List[str]:
    """Outermost first, like a Python traceback."""
    out = []
    for f in reversed(frames):
        out.append(f'{indent}File "{f.filename}", line {f.line}, in {f.function}')
        src = stacks.source_line(f)
        if src:
            out.append(f"{indent}  {src}")
    return out


def process_lines(pid: int, label: str, dump: Optional[Dump]) -> List[str]:
    """``label`` (e.g. ``child 123 (python -c ...)``), then each thread's stack."""
    out = [label]
    if dump is None or dump.error:
        out.append(f"    no Python stack: {dump.error if dump else 'not taken'}")
        return out
    for t in dump.threads:
        name = t.name or ("main thread" if t.os_tid == pid else "?")
        out.append(f"    thread {name} ({t.os_tid}):")
        own = stacks.own_frames(Thread(tid=t.os_tid, frames=t.frames))
        if len(own) < len(t.frames):
            out.append(f"      ({len(t.frames) - len(own)} frames inherited from the parent at "
                       "fork, not running here)")
        out.extend(_frame_lines(own, "      "))
    return out


def command(cmdline: Iterable[str], limit: int = 100) -> str:
    text = " ".join(cmdline) or "(no command line)"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def leak_lines(leaks: Sequence[Tuple[int, Tuple[str, ...], Optional[Dump]]],
               stopped: Sequence[int], facts: Optional[Dict[int, str]] = None) -> List[str]:
    n = len(leaks)
    out = [f"mpdoctor: {n} process{'es' if n != 1 else ''} started by this test "
           f"{'were' if n != 1 else 'was'} still running after its teardown; "
           f"mpdoctor stopped {'them' if n != 1 else 'it'}"
           + (f" ({n - len(stopped)} had ended meanwhile)" if len(stopped) < n else "") + "."]
    for pid, cmdline, dump in leaks:
        fact = (facts or {}).get(pid)
        label = f"  process {pid}{f' ({fact})' if fact else ''}: {command(cmdline)}"
        out.extend(process_lines(pid, label, dump))
    out.append("Fix: join (or terminate, then join) every process a test starts, e.g. in a "
               "fixture's teardown or a `with` block.")
    return out
