"""The human report: verdict first, then each finding with its evidence and fix, the wait-for
chain, and every process and thread with its user frames shown and library frames folded.

``render`` returns rich ``Text`` lines; only ``print_report`` writes them.  Colour follows the
stream (none when it is not a terminal, or with ``NO_COLOR``).
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, TextIO, Tuple

from rich.console import Console
from rich.text import Text

from mpdoctor import explain
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import count, thread_label, wait_text, who
from mpdoctor.exitcodes import ExitCode
from mpdoctor.model import Finding, Frame, Process, Snapshot, Thread
from mpdoctor.report import Report, status_text

#: a run of library frames longer than this is shown by its two ends
FOLD_SHOWN = 4

VERDICT_STYLE = {"deadlock": "bold red", "timeout": "bold yellow", "failed": "bold yellow",
                 "ok": "bold green"}


def _header(report: Report) -> Text:
    v = report.verdict
    if v == "deadlock":
        msg = "DEADLOCK proven: nothing in the script's process tree can ever move again"
    elif v == "timeout":
        msg = (f"TIMEOUT after {report.timeout:g} s: the script did not finish, and no deadlock "
               "was proven (something may still be able to move)")
    elif v == "exited":
        msg = "the process ended while it was watched; no deadlock"
    elif v == "failed":
        msg = f"the script {status_text(report.status)}; no hang"
    else:
        msg = f"the script {status_text(report.status)}"
    t = Text("mpdoctor: ", style="bold")
    t.append(msg, style=VERDICT_STYLE.get(v, ""))
    return t


def _finding(f: Finding) -> List[Text]:
    style = "bold red" if f.severity.value == "error" else "bold yellow"
    out = [Text.assemble((f"[{f.slug}] ", style), (f.summary, "bold"))]
    if f.evidence:
        out.append(Text("  Evidence:", style="bold"))
        out.extend(Text(f"    - {line}") for line in f.evidence)
    if f.fix:
        out.append(Text.assemble(("  Fix: ", "bold green"), f.fix))
    refs = [f"{name}: {value}" for name, value in explain.refs(f).items()]
    if refs:
        out.append(Text("  " + "  |  ".join(refs), style="dim"))
    return out


def _chain(report: Report) -> List[Text]:
    diag = report.diagnosis
    if diag is None or not diag.chain:
        return []
    links = list(diag.chain)
    cycle = len(links) > 1 and (links[-1].pid, links[-1].tid) == (links[0].pid, links[0].tid)
    if cycle:
        links = links[:-1]
    out = [Text("Wait-for chain (each waits for the next):", style="bold")]
    for i, link in enumerate(links, 1):
        out.append(Text(f"  {i}. {link.text}"))
    if cycle:
        out.append(Text("  -> back to 1: the cycle is closed", style="bold red"))
    return out


def _fold(thread: Thread) -> List[Text]:
    """Outermost call first; runs of library frames folded into one dim line; in a forked
    child, the copy of the parent's stack it started with folded as well."""
    out: List[Text] = []
    frames = stacks.own_frames(thread)
    inherited = len(thread.frames) - len(frames)
    if inherited:
        out.append(Text(f"        {inherited} frames inherited from the parent at fork "
                        "(not running here)", style="dim"))
    run: List[Frame] = []

    def flush() -> None:
        if not run:
            return
        shown = [f"{f.function} ({os.path.basename(f.filename)}:{f.line})" for f in run]
        if len(run) > FOLD_SHOWN:
            # a long run (pytest's and pluggy's 30-odd frames) says where it enters and where
            # it ends, and whose code lies between
            packages = list(dict.fromkeys(stacks.package(f.filename) for f in run))
            shown = [shown[0], f"... {len(run) - 2} more ({', '.join(packages[:6])}"
                     f"{', ...' if len(packages) > 6 else ''}) ...", shown[-1]]
        out.append(Text(f"        {count(len(run), 'library frame')}: {' > '.join(shown)}",
                        style="dim"))
        run.clear()

    for f in reversed(frames):
        if stacks.is_library(f.filename):
            run.append(f)
            continue
        flush()
        src = stacks.source_line(f)
        line = Text(f"        {f.filename}:{f.line} in {f.function}", style="bold cyan")
        if src:
            line.append(f": {src}", style="cyan")
        out.append(line)
    flush()
    return out


def signature(p: Process) -> Tuple:
    """What makes two processes "the same" in a report: shown once, with the others' pids."""
    return (p.role, tuple((t.name, t.wait.kind, t.wait.syscall,
                           tuple((f.function, f.filename, f.line) for f in t.frames))
                          for t in p.threads))


def _thread(snapshot: Snapshot, p: Process, t: Thread, stuck: bool) -> List[Text]:
    head = Text(f"    {thread_label(p, t)}: {wait_text(snapshot, p, t)}")
    if stuck:
        head.append("  [stuck]", style="bold red")
    return [head] + _fold(t)


def _processes(report: Report) -> List[Text]:
    s = report.snapshot
    if s is None:
        return []
    stuck = set(report.diagnosis.stuck) if report.diagnosis else set()
    out = [Text(f"Processes ({len(s.processes)}):", style="bold")]
    groups: Dict[Tuple, List[Process]] = {}
    for p in s.processes:
        groups.setdefault(signature(p), []).append(p)
    shown: set = set()
    for p in s.processes:
        if p.pid in shown:
            continue
        same = groups[signature(p)]
        shown.update(q.pid for q in same)
        cmd = " ".join(p.cmdline) or "(no command line)"
        if len(cmd) > 100:
            cmd = cmd[:97] + "..."
        if p.state == "Z":
            cmd = "exited, not yet reaped by its parent (zombie)"
        out.append(Text.assemble(("  " + who(s, p.pid), "bold"), f" (parent {p.ppid}): ",
                                 (cmd, "dim")))
        if p.state == "Z":
            continue
        if p.stack_source == "faulthandler":
            out.append(Text("    Python stacks from faulthandler inside the process (py-spy "
                            f"could not read it: {p.stack_error or 'no reason given'})",
                            style="dim"))
        elif p.stack_error:
            out.append(Text(f"    no Python stack: {p.stack_error}", style="dim"))
        for t in p.threads:
            out.extend(_thread(s, p, t, (p.pid, t.tid) in stuck))
        if len(same) > 1:
            others = [q.pid for q in same if q.pid != p.pid]
            out.append(Text(f"  ... and {len(others)} more with the same threads and stacks: "
                            f"{', '.join(map(str, others))}", style="dim"))
    return out


def render(report: Report) -> List[Text]:
    """The report as lines.  A clean run (exit 0, nothing found, nothing to note) renders as
    nothing at all: mpdoctor stays out of the way."""
    with stacks.using(report.snapshot):
        return _render(report)


def _render(report: Report) -> List[Text]:
    notes = list(report.notes) + (list(report.snapshot.notes) if report.snapshot else [])
    if report.silent:
        return []
    out = [_header(report)]
    if report.verdict in ("ok", "failed", "exited") and not report.findings:
        out.extend(Text(f"  note: {n}", style="dim") for n in notes)
        return out
    for f in report.findings:
        out.append(Text(""))
        out.extend(_finding(f))
    if report.diagnosis is not None and report.diagnosis.movable:
        out.append(Text(""))
        out.append(Text("Why no deadlock is proven: these threads can still act by themselves",
                        style="bold"))
        out.extend(Text(f"  - {link.text}") for link in report.diagnosis.movable[:20])
    chain = _chain(report)
    if chain:
        out.append(Text(""))
        out.extend(chain)
    procs = _processes(report)
    if procs:
        out.append(Text(""))
        out.extend(procs)
    if notes:
        out.append(Text(""))
        out.extend(Text(f"note: {n}", style="dim") for n in notes)
    tail = []
    if report.stopped:
        tail.append(f"mpdoctor stopped {count(report.stopped, 'process')} of the script")
    tail.append(f"exit status {report.exit_code} ({_status_word(report)})")
    out.append(Text(""))
    out.append(Text("; ".join(tail) + ".", style="bold"))
    return out


def _status_word(report: Report) -> str:
    """What the exit status means: the verdict, or --strict's finding on a clean exit."""
    if report.verdict == "ok" and report.exit_code == int(ExitCode.FINDINGS) and report.findings:
        return "--strict: the script exited 0, with a finding"
    return report.verdict


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich turns a closed pipe into SystemExit(1); the CLI decides what it means
        raise BrokenPipeError


def make_console(stream: TextIO, color: Optional[bool] = None) -> Console:
    is_tty = stream.isatty() if hasattr(stream, "isatty") else False
    no_color = bool(os.environ.get("NO_COLOR"))
    use_color = (is_tty and not no_color) if color is None else color
    return _Console(file=stream, force_terminal=use_color, no_color=not use_color,
                   highlight=False, soft_wrap=not is_tty, emoji=False)


def print_report(report: Report, stream: TextIO, color: Optional[bool] = None,
                 lines: Optional[Iterable[Text]] = None) -> None:
    console = make_console(stream, color)
    for line in render(report) if lines is None else lines:
        console.print(line)
