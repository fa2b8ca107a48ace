"""The report as one self-contained HTML page (``--html PATH``, ``--mpdoctor-html DIR``).

The verdict first, then each finding with its evidence and fix, the wait-for graph drawn as
inline SVG (:mod:`mpdoctor.report.svg`) with the chain under it, and every process with its
threads: the user's line first, then the stack in call order with library frames folded into
``<details>`` a click opens.  No script, no font, no image, nothing fetched: the page carries its
own style, and its Content-Security-Policy forbids loading anything at all, so it opens the
same from a CI artifact, a mail attachment or a laptop without network.

Everything the script controls (paths, command lines, thread names, source lines, messages) is
escaped.  :func:`render` is a pure function of the :class:`~mpdoctor.report.Report`.
"""

from __future__ import annotations

import html
import os
import re
import shlex
import time
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from mpdoctor import __version__
from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.describe import (exit_text, fill, library_action, thread_label,
                                        wait_text, who)
from mpdoctor.model import Finding, Frame, Process, Snapshot, Thread
from mpdoctor.report import Report, status_text, svg

if TYPE_CHECKING:
    from mpdoctor.report.pytestreport import Verdict

#: what a page may load: nothing (styles are inline; there is no script)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = """
:root { --red: #b91c1c; --red-bg: #fef2f2; --amber: #b45309; --amber-bg: #fffbeb;
  --green: #15803d; --green-bg: #f0fdf4; --ink: #0f172a; --dim: #64748b; --line: #e2e8f0;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f8fafc; }
header.verdict { padding: 20px 32px 16px; border-bottom: 1px solid var(--line);
  background: var(--green-bg); }
header.verdict.deadlock { background: var(--red-bg); border-top: 6px solid var(--red); }
header.verdict.timeout, header.verdict.failed { background: var(--amber-bg);
  border-top: 6px solid var(--amber); }
header.verdict.ok, header.verdict.exited { border-top: 6px solid var(--green); }
.tool { margin: 0; font-size: 13px; letter-spacing: .08em; text-transform: uppercase;
  color: var(--dim); }
h1 { margin: 2px 0 0; font-size: 28px; }
.deadlock h1 { color: var(--red); }
.timeout h1, .failed h1 { color: var(--amber); }
.ok h1, .exited h1 { color: var(--green); }
.lead { margin: 2px 0 10px; font-size: 17px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0;
  font-size: 14px; }
dl.facts dt { color: var(--dim); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
main { max-width: 1320px; margin: 0 auto; padding: 8px 32px 32px; }
nav.toc { margin: 12px 0 4px; font-size: 14px; }
nav.toc a { margin-right: 16px; }
h2 { margin: 28px 0 10px; font-size: 20px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
code, pre, .mono { font-family: var(--mono); font-size: 13px; }
a { color: #1d4ed8; }
.finding { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--red);
  border-radius: 6px; padding: 12px 18px; margin: 12px 0; }
.finding.warning { border-left-color: var(--amber); }
.finding.info { border-left-color: var(--dim); }
.finding h3 { margin: 0 0 8px; font-size: 16px; }
.slug { display: inline-block; font-family: var(--mono); font-size: 13px; color: #fff;
  background: var(--red); border-radius: 4px; padding: 0 6px; margin-right: 6px; }
.warning .slug { background: var(--amber); }
.info .slug { background: var(--dim); }
.finding h4 { margin: 10px 0 4px; font-size: 14px; color: var(--dim); }
.finding ul { margin: 0; padding-left: 20px; }
.finding li { margin: 2px 0; overflow-wrap: anywhere; }
.fix { margin: 10px 0 4px; padding: 8px 12px; background: var(--green-bg);
  border-left: 4px solid var(--green); border-radius: 4px; }
.refs { margin: 6px 0 0; font-size: 13px; color: var(--dim); }
figure.graph { margin: 8px 0; padding: 8px; background: #fff; border: 1px solid var(--line);
  border-radius: 6px; overflow-x: auto; }
figure.graph svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
.legend { font-size: 13px; color: var(--dim); margin: 4px 0 0; }
.legend span { margin-right: 14px; white-space: nowrap; }
.key { display: inline-block; width: 22px; height: 0; vertical-align: middle;
  border-top: 2px solid #64748b; margin-right: 4px; }
.key.cycle { border-top: 3px solid #dc2626; }
.key.holder { border-top: 2px dashed #a8a29e; }
.key.stuck { height: 12px; border: 0; background: #fee2e2; }
.key.node { height: 12px; border: 1px solid #f59e0b; background: #fff7ed; border-radius: 6px; }
ol.chain li { margin: 2px 0; overflow-wrap: anywhere; }
ol.chain li.back { list-style: none; color: var(--red); font-weight: 600; }
.process { background: #fff; border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 16px; margin: 12px 0; }
.process.on-chain { border-color: #fca5a5; }
.process h3 { margin: 0; font-size: 16px; }
.process .parent { font-weight: normal; color: var(--dim); font-size: 14px; }
.process .cmd { margin: 2px 0 6px; color: var(--dim); overflow-wrap: anywhere; }
.process .same { margin: 0 0 6px; font-size: 13px; color: var(--dim); }
.thread { border-top: 1px solid var(--line); padding: 6px 0 4px; }
.thread h4 { margin: 0; font-size: 14px; font-weight: 600; overflow-wrap: anywhere; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; border-radius: 4px;
  padding: 0 6px; margin-left: 6px; background: #e2e8f0; color: var(--ink); }
.badge.stuck { background: #fee2e2; color: var(--red); }
.badge.cycle { background: var(--red); color: #fff; }
.where { margin: 2px 0 4px; font-size: 14px; overflow-wrap: anywhere; }
.where .action { color: var(--dim); }
ol.stack { list-style: none; margin: 0; padding: 0 0 0 14px; }
ol.stack li { margin: 1px 0; }
.frame { font-family: var(--mono); font-size: 13px; overflow-wrap: anywhere; }
.frame.user .loc { color: #0e7490; font-weight: 600; }
.frame .fn { color: var(--ink); }
.frame .src { display: block; margin: 0 0 2px 24px; white-space: pre-wrap; color: #155e75; }
details.fold > summary { cursor: pointer; color: var(--dim); font-family: var(--mono);
  font-size: 13px; overflow-wrap: anywhere; }
details.fold > ol { list-style: none; padding-left: 18px; margin: 2px 0; }
details.fold .frame { color: var(--dim); }
table.pipes { border-collapse: collapse; background: #fff; font-size: 14px; }
table.pipes th, table.pipes td { border: 1px solid var(--line); padding: 4px 10px;
  text-align: left; vertical-align: top; }
table.pipes th { background: #f1f5f9; }
ul.notes { color: var(--dim); }
footer { max-width: 1320px; margin: 0 auto; padding: 0 32px 32px; color: var(--dim);
  font-size: 13px; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _heading(report: Report, test: Optional[str]) -> Tuple[str, str]:
    """(the verdict in a few words, the sentence under it)."""
    tree = "the test's process tree" if test else "the script's process tree"
    v = report.verdict
    if v == "deadlock":
        return "DEADLOCK proven", f"nothing in {tree} can ever move again"
    if v == "timeout":
        after = f" after {report.timeout:g} s" if report.timeout else ""
        return (f"TIMEOUT{after}", f"{'the test' if test else 'the script'} did not finish, "
                "and no deadlock was proven (something may still be able to move)")
    if v == "exited":
        return "no deadlock", "the process ended while it was watched"
    if v == "failed":
        return "failed, no hang", f"the script {status_text(report.status)}"
    return "no hang", f"the script {status_text(report.status)}"


def _command(report: Report) -> Tuple[str, ...]:
    if report.command:
        return report.command
    root = report.snapshot.root if report.snapshot is not None else None
    return root.cmdline if root is not None else ()


def subject(report: Report, test: Optional[str] = None) -> str:
    """What the report is about, in a few words: a test, a script, a module or a pid."""
    if test:
        return test
    cmd = _command(report)
    if len(cmd) >= 2 and cmd[0] == "attach":
        return f"pid {cmd[1]}"
    if "-m" in cmd[:-1]:
        return cmd[cmd.index("-m") + 1]
    if len(cmd) >= 2:
        return os.path.basename(cmd[1]) or cmd[1]
    return os.path.basename(cmd[0]) if cmd else "a snapshot"


def title(report: Report, test: Optional[str] = None) -> str:
    heading, _ = _heading(report, test)
    slugs = list(dict.fromkeys(f.slug for f in report.findings))
    tag = f" [{', '.join(slugs)}]" if slugs else ""
    return f"mpdoctor: {heading}{tag} \u2014 {subject(report, test)}"


# --------------------------------------------------------------------------------------------
# sections


def _facts(report: Report, test: Optional[str]) -> str:
    rows: List[Tuple[str, str]] = []
    if test:
        rows.append(("test", f"<code>{_e(test)}</code>"))
    cmd = _command(report)
    if cmd:
        where = "" if report.command else " <span class=\"dim\">(the script's process)</span>"
        rows.append(("command", f"<code>{_e(shlex.join(cmd))}</code>{where}"))
    s = report.snapshot
    if s is not None:
        threads = sum(len(p.threads) for p in s.processes)
        stuck = len(report.diagnosis.stuck) if report.diagnosis else 0
        rows.append(("processes", f"{len(s.processes)} ({threads} threads, {stuck} proven "
                                  "stuck)"))
        if s.taken_at:
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(s.taken_at))
            rows.append(("seen at", _e(when)))
    if report.duration:
        took = f"{report.duration:.1f} s"
        if report.proof_seconds:
            took += f" (stacks and diagnosis: {report.proof_seconds:.2f} s)"
        rows.append(("watched for" if not test else "verdict after", _e(took)))
    if not test:
        rows.append(("exit status", _e(f"{report.exit_code} ({report.verdict})")))
    return "<dl class=\"facts\">" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) \
        + "</dl>"


def _finding(f: Finding, i: int) -> str:
    out = [f'<article class="finding {_e(f.severity.value)}" id="finding-{i}">',
           f'<h3><span class="slug">{_e(f.slug)}</span>{_e(f.summary)}</h3>']
    if f.evidence:
        out.append("<h4>Evidence</h4><ul>")
        out.extend(f"<li>{_e(line)}</li>" for line in f.evidence)
        out.append("</ul>")
    if f.fix:
        out.append(f'<div class="fix"><strong>Fix:</strong> {_e(f.fix)}</div>')
    refs = [x for x in (f.docs and f"docs: <code>{_e(f.docs)}</code>",
                        f.repro and f"example: <code>{_e(f.repro)}</code>") if x]
    if refs:
        out.append(f'<p class="refs">{" &middot; ".join(refs)}</p>')
    out.append("</article>")
    return "\n".join(out)


def _graph(report: Report) -> str:
    s, diag = report.snapshot, report.diagnosis
    if s is None or not s.processes:
        return ""
    lay = svg.layout(s, diag)
    chain = list(diag.chain) if diag is not None else []
    what = ("the proven cycle" if lay.closed else "the wait-for chain") if chain else ""
    out = ['<section id="graph"><h2>Wait-for graph</h2>',
           "<p>Each arrow goes from a blocked thread to what could end its wait: a process "
           "(its exit, or any of its threads), another thread, or the pipe, socket or "
           "semaphore it waits on and, dashed, the processes that hold its other end. "
           "Identical processes are one box. Click a box for its stacks."
           + (f" In red: {what}." if what else "") + "</p>",
           f'<figure class="graph">{svg.render(lay, "Wait-for graph")}</figure>',
           '<p class="legend">'
           + ('<span><i class="key cycle"></i>' + _e(what) + "</span>" if what else "")
           + '<span><i class="key"></i>waits for</span>'
           '<span><i class="key holder"></i>held by</span>'
           '<span><i class="key stuck"></i>thread proven stuck</span>'
           '<span><i class="key node"></i>pipe, socket or semaphore</span></p>']
    if chain:
        links = chain[:-1] if lay.closed else chain
        out.append("<h3>Wait-for chain (each waits for the next)</h3><ol class=\"chain\">")
        out.extend(f"<li>{_e(link.text)}</li>" for link in links)
        if lay.closed:
            out.append('<li class="back">&#8617; back to 1: the cycle is closed</li>')
        out.append("</ol>")
    out.append("</section>")
    return "\n".join(out)


def _movable(report: Report) -> str:
    diag = report.diagnosis
    if diag is None or not diag.movable:
        return ""
    items = "".join(f"<li>{_e(link.text)}</li>" for link in diag.movable[:20])
    more = (f"<li>... and {len(diag.movable) - 20} more</li>" if len(diag.movable) > 20 else "")
    return ('<section id="movable"><h2>Why no deadlock is proven</h2>'
            f"<p>These threads can still act by themselves:</p><ul>{items}{more}</ul></section>")


def _frame(f: Frame, user: bool) -> str:
    src = stacks.source_line(f)
    cls = "frame user" if user else "frame lib"
    return (f'<li class="{cls}"><span class="loc">{_e(f.filename)}:{f.line}</span> in '
            f'<span class="fn">{_e(f.function)}</span>'
            + (f'<code class="src">{_e(src)}</code>' if src else "") + "</li>")


def _fold(frames: Sequence[Frame], summary: str) -> str:
    inner = "".join(_frame(f, False) for f in frames)
    return (f'<li><details class="fold"><summary>{_e(summary)}</summary><ol>{inner}</ol>'
            "</details></li>")


def _stack(thread: Thread) -> str:
    """Outermost call first; each run of library frames folded (its functions named in the
    fold's one line); in a forked child, the parent's stack it started with folded too."""
    own = stacks.own_frames(thread)
    out = ['<ol class="stack">']
    inherited = thread.frames[len(own):]
    if inherited:
        out.append(_fold(tuple(reversed(inherited)),
                         f"{len(inherited)} frames inherited from the parent at fork "
                         "(not running here)"))
    run: List[Frame] = []

    def flush() -> None:
        if run:
            names = " \u203a ".join(f"{f.function} ({os.path.basename(f.filename)}:{f.line})"
                                    for f in run)
            out.append(_fold(tuple(run), f"{len(run)} library frame"
                                         f"{'s' if len(run) > 1 else ''}: {names}"))
            run.clear()

    for f in reversed(own):
        if stacks.is_library(f.filename):
            run.append(f)
            continue
        flush()
        out.append(_frame(f, True))
    flush()
    out.append("</ol>")
    return "".join(out)


def _thread(s: Snapshot, p: Process, t: Thread, stuck: bool, on_chain: bool) -> str:
    badges = ('<span class="badge cycle">on the chain</span>' if on_chain else "") \
        + ('<span class="badge stuck">stuck</span>' if stuck else "")
    out = [f'<div class="thread" id="thread-{p.pid}-{t.tid}">',
           f"<h4>{_e(thread_label(p, t))}: {_e(wait_text(s, p, t))}{badges}</h4>"]
    frame = stacks.user_frame(t)
    action = library_action(t)
    where = []
    if frame is not None:
        src = stacks.source_line(frame)
        where.append(f"at <code>{_e(frame.filename)}:{frame.line}</code> in "
                     f"<code>{_e(frame.function)}</code>"
                     + (f": <code>{_e(src)}</code>" if src else ""))
    if action:
        where.append(f'<span class="action">{_e(action)}</span>')
    if where:
        out.append(f'<p class="where">{" &mdash; ".join(where)}</p>')
    if t.frames:
        out.append(_stack(t))
    out.append("</div>")
    return "\n".join(out)


def _processes(report: Report) -> str:
    s = report.snapshot
    if s is None or not s.processes:
        return ""
    diag = report.diagnosis
    stuck = set(diag.stuck) if diag else set()
    chain = {(link.pid, link.tid) for link in diag.chain} if diag else set()
    out = [f'<section id="processes"><h2>Processes ({len(s.processes)})</h2>']
    along = svg.chain_pids(diag)
    groups = svg.process_groups(s, along)
    # the processes of the chain first, in its order; then the rest as they were seen
    groups.sort(key=lambda g: along.index(g[0].pid) if g[0].pid in along else len(along))
    for group in groups:
        p = group[0]
        on_chain = any((p.pid, t.tid) in chain for t in p.threads)
        cmd = shlex.join(p.cmdline) if p.cmdline else "(no command line)"
        out.append(f'<article class="process{" on-chain" if on_chain else ""}" '
                   f'id="proc-{p.pid}">'
                   f'<h3>{_e(who(s, p.pid))} <span class="parent">(parent {p.ppid})</span></h3>')
        if p.state == "Z":
            status = f", {exit_text(p.exit_status)}" if p.exit_status is not None else ""
            out.append(f'<p class="cmd">exited, not yet reaped by its parent (zombie)'
                       f"{_e(status)}</p>")
        else:
            out.append(f'<p class="cmd"><code>{_e(cmd)}</code></p>')
        if len(group) > 1:
            others = ", ".join(str(q.pid) for q in group[1:])
            out.append(f'<p class="same">and {len(group) - 1} more with the same threads and '
                       f"stacks: {_e(others)}</p>")
        if p.stack_error and p.state != "Z":
            out.append(f'<p class="same">no Python stack: {_e(p.stack_error)}</p>')
        if p.state != "Z":
            for t in p.threads:
                out.append(_thread(s, p, t, (p.pid, t.tid) in stuck, (p.pid, t.tid) in chain))
        out.append("</article>")
    out.append("</section>")
    return "\n".join(out)


def _pids(s: Snapshot, holders) -> str:
    pids = sorted({h.pid for h in holders}, key=lambda pid: (pid != s.root_pid, pid))
    if not pids:
        return "none"
    shown = ", ".join(map(str, pids[:12])) + (f" and {len(pids) - 12} more" if len(pids) > 12
                                               else "")
    return _e(f"{shown} ({len(pids)})" if len(pids) > 1 else shown)


def _pipes(report: Report) -> str:
    s = report.snapshot
    if s is None or not (s.pipes or s.sockets):
        return ""
    out = ['<section id="pipes"><h2>Pipes and sockets</h2><table class="pipes"><tr>'
           "<th>object</th><th>pending</th><th>read end held by</th>"
           "<th>write end held by</th></tr>"]
    for pipe in s.pipes:
        outside = " (and outside the tree)" if pipe.outside else ""
        out.append(f"<tr><td><code>pipe:[{pipe.inode}]</code></td><td>{_e(fill(pipe) or '?')}"
                   f"</td><td>{_pids(s, pipe.readers)}{outside}</td>"
                   f"<td>{_pids(s, pipe.writers)}{outside}</td></tr>")
    for sock in s.sockets:
        outside = " (and outside the tree)" if sock.outside else ""
        pending = f"{sock.pending:,} bytes" if sock.pending is not None else "?"
        out.append(f"<tr><td><code>socket:[{sock.inode}]</code> {_e(sock.kind)}</td>"
                   f"<td>{_e(pending)}</td><td>{_pids(s, sock.holders)}{outside}</td>"
                   f"<td>peer: {_pids(s, sock.peer_holders)}</td></tr>")
    out.append("</table></section>")
    return "\n".join(out)


def _notes(report: Report) -> str:
    notes = list(report.notes) + (list(report.snapshot.notes) if report.snapshot else [])
    if not notes:
        return ""
    return ('<section id="notes"><h2>Notes</h2><ul class="notes">'
            + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul></section>")


def render(report: Report, test: Optional[str] = None) -> str:
    """The page for ``report``; ``test`` is the node id when it is a test's report."""
    # library frames are told from the user's by the snapshot's own interpreter's directories
    with stacks.using(report.snapshot):
        return _render(report, test)


def _render(report: Report, test: Optional[str] = None) -> str:
    heading, lead = _heading(report, test)
    sections = [("findings", "Findings"), ("graph", "Wait-for graph"),
                ("movable", "Why not proven"), ("processes", "Processes"),
                ("pipes", "Pipes"), ("notes", "Notes")]
    body = {
        "findings": ("" if not report.findings else
                     f'<section id="findings"><h2>Findings ({len(report.findings)})</h2>'
                     + "\n".join(_finding(f, i) for i, f in enumerate(report.findings, 1))
                     + "</section>"),
        "graph": _graph(report),
        "movable": _movable(report),
        "processes": _processes(report),
        "pipes": _pipes(report),
        "notes": _notes(report),
    }
    toc = " ".join(f'<a href="#{key}">{name}</a>' for key, name in sections if body[key])
    tail = []
    if test:
        tail.append("mpdoctor interrupted the test's main thread"
                    + (f" and stopped {report.stopped} processes the test had started"
                       if report.stopped else ""))
    elif report.stopped:
        tail.append(f"mpdoctor stopped {report.stopped} processes of the script")
    if not test:
        tail.append(f"exit status {report.exit_code} ({report.verdict})")
    footer = "; ".join(tail) + ("." if tail else "")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="mpdoctor {_e(__version__)}">',
        f"<title>{_e(title(report, test))}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f'<header class="verdict {_e(report.verdict)}">',
        '<p class="tool">mpdoctor report</p>',
        f"<h1>{_e(heading)}</h1>",
        f'<p class="lead">{_e(lead)}</p>',
        _facts(report, test),
        "</header>",
        "<main>",
        f'<nav class="toc">{toc}</nav>' if toc else "",
        *[body[key] for key, _ in sections if body[key]],
        "</main>",
        f"<footer><p>{_e(footer)} Made by mpdoctor {_e(__version__)}.</p></footer>",
        "</body>",
        "</html>",
        "",
    ])


# --------------------------------------------------------------------------------------------
# files


def file_name(nodeid: str) -> str:
    """A file name for a test's page, from its node id: readable, safe on any file system
    (no separators, no characters Windows refuses, no leading dot), not too long, and
    distinct for distinct node ids (a short hash of the id keeps two that clean up alike apart).
    """
    import hashlib
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", nodeid.replace("::", "__")).strip("._") or "test"
    digest = hashlib.sha1(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{clean[:120]}-{digest}.html"


def write(report: Report, path: str, test: Optional[str] = None) -> None:
    """Write the page to ``path`` (UTF-8), through a temporary file renamed into place, so
    that a reader never sees half a page."""
    text = render(report, test)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_for_test(directory: str, nodeid: str, verdict: "Verdict",
                   timeout: Optional[float] = None) -> str:
    """The page of a test's verdict in ``directory`` (created if needed); returns its path."""
    report = Report(verdict=verdict.kind, exit_code=0, diagnosis=verdict.diagnosis,
                    snapshot=verdict.snapshot, duration=verdict.after,
                    proof_seconds=verdict.proof_seconds, timeout=timeout,
                    stopped=len(verdict.stopped))
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, file_name(nodeid))
    write(report, path, test=nodeid)
    return path
