"""Command line.  The only place that prints errors and picks exit codes (see exitcodes.py)."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from typing import List, NoReturn, Optional, Sequence, Tuple

from mpdoctor import __version__
from mpdoctor.errors import MpdoctorError, PlatformError, TargetError, UsageError
from mpdoctor.exitcodes import ExitCode

EPILOG = """\
exit status: the script's own when it ends by itself (128+N if killed by signal N);
  86 = deadlock proven, 87 = --timeout reached with no deadlock proven,
  88 = bad input (nothing was started), 89 = mpdoctor itself failed,
  90 = with --strict: the script exited 0 but mpdoctor reported a finding.
  attach: 86 / 87 as above, 0 when the process ended while watched.
"""


HTML_HELP = ("also write the report as one self-contained HTML page to PATH (the wait-for graph "
             "drawn, every stack; opens offline)")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting with status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}.", f"See `{self.prog} --help`.")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mpdoctor",
                     description="Find out why a Python multiprocessing program hangs, prove "
                                 "it, and say how to fix it.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"mpdoctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser(
        "check", help="run a script and diagnose it if it hangs",
        usage="mpdoctor check [options] SCRIPT [ARGS...]\n"
              "       mpdoctor check [options] -m MODULE [ARGS...]",
        description="Run SCRIPT (or -m MODULE) with ARGS. Its output passes through untouched. "
                    "If it deadlocks, mpdoctor proves it, prints the diagnosis to stderr and "
                    "stops the whole process tree.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--timeout", metavar="SECONDS",
                       help="give up after SECONDS: report 'timeout' with every stack, stop the "
                            "tree (default: watch until the script ends; env MPDOCTOR_TIMEOUT)")
    check.add_argument("--json", metavar="PATH", dest="json_path",
                       help="also write the report as JSON to PATH ('-' for stdout)")
    check.add_argument("--report", metavar="FILE",
                       help="write the human report to FILE instead of stderr")
    check.add_argument("--html", metavar="PATH", dest="html_path", help=HTML_HELP)
    check.add_argument("--python", metavar="PATH",
                       help="interpreter to run the script with (default: mpdoctor's own)")
    check.add_argument("--save-snapshot", metavar="PATH",
                       help="save the snapshot the diagnosis was made from (JSON; replay it "
                            "with `mpdoctor diagnose PATH`)")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                       help="colour in the human report (default: auto; NO_COLOR is honoured)")
    check.add_argument("--strict", action="store_true",
                       help="exit with status 90 when the script exits 0 but mpdoctor reports "
                            "a finding (an item dropped by a queue's feeder thread, say)")
    check.add_argument("--no-hooks", action="store_true",
                       help="do not run mpdoctor's hooks inside the script's processes (no "
                            "pickling errors, dropped items or put sites in the report)")
    check.add_argument("-m", metavar="MODULE", dest="module",
                       help="run a library module as a script, like python -m")

    att = sub.add_parser(
        "attach", help="diagnose a running process tree mpdoctor did not start",
        usage="mpdoctor attach [options] PID",
        description="Watch the process PID and its descendants (read-only, from /proc and "
                    "py-spy) until a deadlock is proven or --timeout passes, then report. "
                    "Nothing is stopped.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    att.add_argument("pid", metavar="PID")
    att.add_argument("--timeout", metavar="SECONDS", default="5",
                     help="report 'timeout' with every stack if nothing is proven by then "
                          "(default: 5)")
    att.add_argument("--json", metavar="PATH", dest="json_path")
    att.add_argument("--report", metavar="FILE")
    att.add_argument("--html", metavar="PATH", dest="html_path", help=HTML_HELP)
    att.add_argument("--save-snapshot", metavar="PATH")
    att.add_argument("--color", choices=("auto", "always", "never"), default="auto")

    diag = sub.add_parser(
        "diagnose", help="diagnose a saved snapshot again (no process is touched)",
        description="Run every rule on a snapshot saved with --save-snapshot.")
    diag.add_argument("snapshot", metavar="SNAPSHOT")
    diag.add_argument("--json", metavar="PATH", dest="json_path")
    diag.add_argument("--html", metavar="PATH", dest="html_path", help=HTML_HELP)
    diag.add_argument("--color", choices=("auto", "always", "never"), default="auto")

    # parsed by mpdoctor.lint.cli; listed here for `mpdoctor --help`
    sub.add_parser("lint", help="find multiprocessing traps in source code, without running it",
                   add_help=False)

    repro = sub.add_parser(
        "repro", help="the catalogue of reproducers: list, show or run a case",
        description="Runnable reproducers of each failure mode, with their fixes.")
    actions = repro.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser,
                                   required=True)
    actions.add_parser("list", help="list the cases")
    actions.add_parser("show", help="show a case's README").add_argument("case", metavar="CASE")
    run = actions.add_parser("run", help="run a case's script under `mpdoctor check`",
                             usage="mpdoctor repro run CASE [FILE] [ARGS...]")
    run.add_argument("case", metavar="CASE")
    run.add_argument("rest", nargs=argparse.REMAINDER, metavar="FILE ARGS",
                     help="the script (default: the case's first) and its arguments")
    return parser


def split_check_args(parser: argparse.ArgumentParser,
                     argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Split ``check`` arguments into mpdoctor's options and the target's command.

    Everything after the script path (or after ``-m MODULE``, or ``--``) belongs to the script,
    even when it looks like an option of mpdoctor's."""
    check = parser._subparsers._group_actions[0].choices["check"]  # type: ignore
    takes_value = {opt for a in check._actions if a.nargs is None and a.option_strings
                   and not isinstance(a, (argparse._HelpAction, argparse._VersionAction))
                   for opt in a.option_strings}
    ours: List[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            return ours, list(argv[i + 1:])
        if tok == "-m" or (tok.startswith("-m") and not tok.startswith("--")):
            if tok == "-m":
                if i + 1 >= len(argv):
                    raise UsageError("-m needs a MODULE name.",
                                     "Example: mpdoctor check -m pkg.tool")
                ours += ["-m", argv[i + 1]]
                return ours, list(argv[i + 2:])
            ours += ["-m", tok[2:]]
            return ours, list(argv[i + 1:])
        if tok.startswith("-") and tok != "-":
            ours.append(tok)
            if tok in takes_value and i + 1 < len(argv):
                ours.append(argv[i + 1])
                i += 1
            i += 1
            continue
        return ours, list(argv[i:])
    return ours, []


def parse_timeout(value: Optional[str], where: str) -> Optional[float]:
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"the timeout {value!r} (from {where}) is not a positive number of "
                         "seconds.", "Example: --timeout 30 (or 0.5).")
    return seconds


PROBE = ("import sys, importlib.util; print(sys.version_info[0], "
         "int(importlib.util.find_spec('mpdoctor') is not None))")


def resolve_python(path: Optional[str]) -> Tuple[str, bool]:
    """The interpreter to run, and whether mpdoctor (its hooks) is installed for it."""
    if path is None:
        return sys.executable, True
    import shutil
    found = path if os.sep in path else shutil.which(path)
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise TargetError(f"--python {path!r} is not an executable file.",
                          "Pass the path of a Python interpreter, e.g. --python /usr/bin/python3.")
    import subprocess
    try:
        out = subprocess.run([found, "-c", PROBE], stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=30)
        words = out.stdout.split()
        ok = out.returncode == 0 and len(words) == 2 and words[0] == b"3"
    except (OSError, subprocess.SubprocessError):
        ok, words = False, []
    if not ok:
        raise TargetError(f"--python {path!r} does not run as a Python 3 interpreter.",
                          "Pass the path of a Python 3 interpreter, e.g. "
                          "--python /usr/bin/python3.")
    return os.path.abspath(found), words[1] == b"1"


def check_module(python: str, module: str) -> None:
    """Refuse ``-m`` of a module the interpreter cannot find.  Only the top-level package is
    looked up: finding ``a.b`` would import (run) the package ``a`` before the real run."""
    import subprocess
    top = module.split(".")[0]
    code = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 3)"
    try:
        r = subprocess.run([python, "-c", code, top], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return  # let the real run say what is wrong
    if r.returncode == 3:
        raise TargetError(f"there is no module {top!r} for {python}.",
                          "Check the name, run from the directory that contains it, or install "
                          "it into that interpreter's environment.")


def check_script(path: str) -> None:
    if not os.path.exists(path):
        raise TargetError(f"the script {path!r} does not exist.",
                          "Check the path (it is relative to the current directory), or use "
                          "`-m MODULE` to run a module.")
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "__main__.py")):
            return
        raise TargetError(f"{path!r} is a directory without __main__.py.",
                          "Pass the script file inside it, or `-m package` for a package.")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as err:
        raise TargetError(f"cannot read the script {path!r}: {err.strerror}.",
                          "Check its permissions.") from err
    if head.startswith(b"\x7fELF") or b"\0" in head:
        raise TargetError(f"{path!r} is a binary file, not a Python script.",
                          "mpdoctor runs Python programs: pass the .py file that starts the "
                          "processes.")
    first = head.split(b"\n", 1)[0]
    if first.startswith(b"#!") and b"python" not in first:
        raise TargetError(f"{path!r} is a {first[2:].decode('utf-8', 'replace').strip()} script, "
                          "not a Python script.",
                          "Pass the Python script it runs instead.")


def _platform() -> None:
    if not sys.platform.startswith("linux") or not os.path.isdir("/proc/self/task"):
        raise PlatformError("mpdoctor needs Linux and its /proc file system to see what each "
                            f"process and thread waits for; this system is {sys.platform!r}.",
                            "Run it on Linux (a container or VM works).")


def cmd_check(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    # only what starting the script needs is imported before it starts
    from mpdoctor.run.supervisor import Supervisor

    ours, rest = split_check_args(parser, argv)
    args = parser.parse_args(["check", *ours])
    if args.module is None and not rest:
        raise UsageError("no script to run.",
                         "Usage: mpdoctor check [options] SCRIPT [ARGS...] (or -m MODULE).")
    if args.timeout is not None:
        timeout = parse_timeout(args.timeout, "--timeout")
    else:
        timeout = parse_timeout(os.environ.get("MPDOCTOR_TIMEOUT"), "MPDOCTOR_TIMEOUT")
    _platform()
    python, has_hooks = resolve_python(args.python)
    if args.module is not None:
        check_module(python, args.module)
        command = [python, "-m", args.module, *rest]
    else:
        check_script(rest[0])
        command = [python, *rest]
    for path, what in ((args.json_path, "--json"), (args.report, "--report"),
                       (args.save_snapshot, "--save-snapshot"), (args.html_path, "--html")):
        if path and path != "-":
            _check_writable(path, what)

    supervisor = Supervisor(command, timeout=timeout, hooks=not args.no_hooks)
    if not has_hooks and not args.no_hooks:
        supervisor.notes.append(
            f"mpdoctor is not installed for {python}: its hooks did not run in the script's "
            "processes, so pickling errors, dropped items and put sites are not reported "
            f"(install mpdoctor into that environment: {python} -m pip install mpdoctor)")
    try:
        outcome = supervisor.run()
    except FileNotFoundError as err:
        raise TargetError(f"cannot start {command[0]!r}: {err.strerror}.",
                          "Check --python.") from err
    from mpdoctor.hooks import protocol
    from mpdoctor.report import Report

    diagnosis = outcome.diagnosis
    if diagnosis is None and any(e.kind in (protocol.PICKLE_ERROR, protocol.MAIN_GUARD)
                                 for e in outcome.events):
        from mpdoctor.diagnose import Diagnosis, diagnose_events
        findings = tuple(diagnose_events(outcome.events))
        diagnosis = Diagnosis(False, (), findings, ()) if findings else None
    if outcome.verdict == "deadlock":
        code = int(ExitCode.DEADLOCK)
    elif outcome.verdict == "timeout":
        code = int(ExitCode.TIMEOUT)
    else:
        st = outcome.status if outcome.status is not None else 0
        code = st if st >= 0 else 128 - st
        if code == 0 and args.strict and diagnosis is not None and diagnosis.findings:
            code = int(ExitCode.FINDINGS)
    report = Report(verdict=outcome.verdict, exit_code=code, command=tuple(command),
                    status=outcome.status, diagnosis=diagnosis,
                    snapshot=outcome.snapshot, duration=outcome.duration,
                    proof_seconds=outcome.proof_seconds, timeout=timeout,
                    notes=outcome.notes, stopped=outcome.stopped,
                    events=outcome.event_counts)
    if args.save_snapshot and outcome.snapshot is not None:
        from mpdoctor.observe.snapshot import save
        save(outcome.snapshot, args.save_snapshot)
    # the tree is gone; a late Ctrl-C (meant for the script) must not cut the report short
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _emit(report, args)
    finally:
        signal.signal(signal.SIGINT, old)
    return code


def cmd_attach(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    from mpdoctor.observe.snapshot import save
    from mpdoctor.report import Report
    from mpdoctor.run.attach import attach

    args = parser.parse_args(["attach", *argv])
    try:
        pid = int(args.pid)
        if pid <= 0:
            raise ValueError
    except ValueError:
        raise UsageError(f"PID {args.pid!r} is not a process id.",
                         "Example: mpdoctor attach 12345") from None
    timeout = parse_timeout(args.timeout, "--timeout")
    assert timeout is not None
    _platform()
    for path, what in ((args.json_path, "--json"), (args.report, "--report"),
                       (args.save_snapshot, "--save-snapshot"), (args.html_path, "--html")):
        if path and path != "-":
            _check_writable(path, what)
    result = attach(pid, timeout)
    code = {"deadlock": int(ExitCode.DEADLOCK), "timeout": int(ExitCode.TIMEOUT)}.get(
        result.verdict, 0)
    report = Report(verdict=result.verdict, exit_code=code, command=("attach", str(pid)),
                    diagnosis=result.diagnosis, snapshot=result.snapshot,
                    duration=result.duration, proof_seconds=result.proof_seconds,
                    timeout=timeout, notes=result.notes)
    if args.save_snapshot and result.snapshot is not None:
        save(result.snapshot, args.save_snapshot)
    _emit(report, args)
    return code


def cmd_diagnose(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    from mpdoctor.diagnose import diagnose
    from mpdoctor.observe.snapshot import load_file
    from mpdoctor.report import Report

    args = parser.parse_args(["diagnose", *argv])
    if args.html_path:
        _check_writable(args.html_path, "--html")
    snapshot = load_file(args.snapshot)
    diagnosis = diagnose(snapshot)
    verdict = "deadlock" if diagnosis.deadlock else "timeout"
    code = int(ExitCode.DEADLOCK if diagnosis.deadlock else ExitCode.TIMEOUT)
    report = Report(verdict=verdict, exit_code=code, diagnosis=diagnosis, snapshot=snapshot)
    args.report = None
    _emit(report, args)
    return code


def cmd_repro(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    from rich.console import Console

    from mpdoctor import catalogue

    args = parser.parse_args(["repro", *argv])
    if args.action == "run":
        return cmd_check(parser, ["--", *catalogue.command(catalogue.find(args.case), args.rest)])
    Console().print(catalogue.listing() if args.action == "list" else catalogue.readme(args.case))
    return 0


def _check_writable(path: str, what: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise UsageError(f"{what} {path!r}: the directory {directory!r} does not exist or is "
                         "not writable.", f"Pass a writable path to {what}.")


def _emit(report, args) -> None:
    """JSON first (scripts rely on it), then the human report; a reader that went away (a
    closed pipe) costs the rest of the output, never the exit status."""
    try:
        if args.json_path:
            from mpdoctor.report import jsonreport
            text = jsonreport.render(report)
            if args.json_path == "-":
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                with open(args.json_path, "w", encoding="utf-8") as f:
                    f.write(text)
        if args.html_path:
            from mpdoctor.report import html
            html.write(report, args.html_path)
        if report.silent and not args.report:
            return  # a clean run: nothing to say, and no need to load the renderer
        from mpdoctor.report import console
        color = {"always": True, "never": False}.get(args.color)
        if args.report:
            with open(args.report, "w", encoding="utf-8") as f:
                console.print_report(report, f, color=bool(color))
        else:
            sys.stderr.flush()
            console.print_report(report, sys.stderr, color=color)
        from mpdoctor.report import github
        for line in github.lines(report.findings):
            sys.stderr.write(line + "\n")  # stderr: the script's stdout stays its own
        sys.stderr.flush()
    except BrokenPipeError:
        # the reader of stdout/stderr is gone; keep Python from complaining at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stderr.fileno())
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "lint":  # standard library only: no rich, no psutil
        from mpdoctor.lint.cli import main as lint_main
        return lint_main(argv[1:])
    parser = build_parser()
    try:
        if argv and argv[0] == "check":
            return cmd_check(parser, argv[1:])
        if argv and argv[0] == "attach":
            return cmd_attach(parser, argv[1:])
        if argv and argv[0] == "diagnose":
            return cmd_diagnose(parser, argv[1:])
        if argv and argv[0] == "repro":
            return cmd_repro(parser, argv[1:])
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return int(ExitCode.USAGE)
        raise UsageError(f"unknown command {args.command!r}.", "See `mpdoctor --help`.")
    except MpdoctorError as err:
        sys.stderr.write(f"mpdoctor: error: {err}\n")
        return int(err.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("mpdoctor: interrupted\n")
        return 130
    except Exception as err:  # a bug in mpdoctor: one paragraph, traceback only on request
        if os.environ.get("MPDOCTOR_DEBUG"):
            import traceback
            traceback.print_exc()
        sys.stderr.write(f"mpdoctor: internal error: {type(err).__name__}: {err}. This is a "
                         "bug in mpdoctor; run again with MPDOCTOR_DEBUG=1 for the traceback "
                         "and report it.\n")
        return int(ExitCode.INTERNAL)
