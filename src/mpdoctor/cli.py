"""Command line.  The only place that prints errors and picks exit codes (see exitcodes.py).

Start-up time is the user's time: ``mpdoctor check`` starts the script before it imports
anything heavy, so this module imports only ``os`` and ``sys`` at the top.  A ``check`` command
line made of options spelt out in full is read by :func:`quick_parse` (no argparse); anything
else -- help, an abbreviation, a mistake -- goes to argparse, which says what is wrong.
"""

from __future__ import annotations

import os
import sys

from mpdoctor import __version__
from mpdoctor.errors import MpdoctorError, PlatformError, TargetError, UsageError
from mpdoctor.exitcodes import ExitCode

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing is not imported at run time: it costs more than the rest here)
    import argparse
    from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

EPILOG = """\
exit status: the script's own when it ends by itself (128+N if killed by signal N);
  86 = deadlock proven, 87 = --timeout reached with no deadlock proven,
  88 = bad input (nothing was started), 89 = mpdoctor itself failed,
  90 = with --strict: the script exited 0 but mpdoctor reported a finding.
  attach: 86 / 87 as above, 0 when the process ended while watched.
"""

ATTACH_EPILOG = """\
exit status: 86 = deadlock proven, 87 = --timeout reached with no deadlock proven,
  0 = the process ended while it was watched, 88 = bad input (no such process, not Python,
  not allowed to inspect it), 89 = mpdoctor itself failed.
"""


# --------------------------------------------------------------------------------------------
# options, each defined once and shared by the commands that take it


class Option:
    """One option: its flags and the keyword arguments argparse takes for it."""

    __slots__ = ("flags", "kwargs")

    def __init__(self, flags: Tuple[str, ...], kwargs: Dict[str, Any]) -> None:
        self.flags = flags
        self.kwargs = kwargs

    @property
    def takes_value(self) -> bool:
        return self.kwargs.get("action") not in ("store_true", "store_false")

    @property
    def dest(self) -> str:
        """The attribute it sets, named as argparse names it."""
        if "dest" in self.kwargs:
            return str(self.kwargs["dest"])
        flag = next((f for f in self.flags if f.startswith("--")), self.flags[0])
        return flag.lstrip("-").replace("-", "_")

    @property
    def default(self) -> Any:
        if self.kwargs.get("action") == "store_true":
            return self.kwargs.get("default", False)
        value = self.kwargs.get("default")
        return list(value) if isinstance(value, list) else value


def _opt(*flags: str, **kwargs: Any) -> Option:
    return Option(tuple(flags), kwargs)


JSON = _opt("--json", metavar="PATH", dest="json_path",
            help="also write the report as JSON to PATH; '-': to stdout, as its last line, "
                 "after the script's own output")
REPORT = _opt("--report", metavar="FILE", help="write the human report to FILE instead of stderr")
HTML = _opt("--html", metavar="PATH", dest="html_path",
            help="also write the report as one self-contained HTML page to PATH (the wait-for "
                 "graph drawn, every stack; opens offline)")
SAVE = _opt("--save-snapshot", metavar="PATH",
            help="save the snapshot the diagnosis was made from (JSON; replay it with "
                 "`mpdoctor diagnose PATH`)")
COLOR = _opt("--color", choices=("auto", "always", "never"), default="auto",
             help="colour in the human report (default: auto: on a terminal unless NO_COLOR is "
                  "set; an explicit always/never wins over NO_COLOR and FORCE_COLOR)")
IGNORE = _opt("--ignore", metavar="SLUG[,SLUG]", action="append", default=[],
              help="leave out warnings with these slugs (never a proven deadlock: it still "
                   "fails); repeatable; env MPDOCTOR_IGNORE")
CHECK_TIMEOUT = _opt("--timeout", metavar="SECONDS",
                     help="give up after SECONDS: report 'timeout' with every stack, stop the "
                          "tree (default: watch until the script ends; env MPDOCTOR_TIMEOUT)")
ATTACH_TIMEOUT = _opt("--timeout", metavar="SECONDS", default="5",
                      help="report 'timeout' with every stack if nothing is proven by then "
                           "(default: 5)")
PYTHON = _opt("--python", metavar="PATH",
              help="interpreter to run the script with (default: mpdoctor's own)")
STRICT = _opt("--strict", action="store_true",
              help="exit with status 90 when the script exits 0 but mpdoctor reports a "
                   "finding (an item dropped by a queue's feeder thread, say)")
NO_HOOKS = _opt("--no-hooks", action="store_true",
                help="do not run mpdoctor's hooks inside the script's processes (no pickling "
                     "errors, dropped items or put sites in the report)")
STATUS = _opt("--status", choices=("auto", "never"), default="auto",
              help="a live status line at the bottom of the terminal while watching (default: "
                   "auto: when stderr is a terminal)")
MODULE = _opt("-m", metavar="MODULE", dest="module",
              help="run a library module as a script, like python -m")

OUTPUTS = (JSON, REPORT, HTML, SAVE, COLOR, IGNORE)
CHECK_OPTIONS = (CHECK_TIMEOUT, *OUTPUTS, PYTHON, STRICT, NO_HOOKS, STATUS, MODULE)
ATTACH_OPTIONS = (ATTACH_TIMEOUT, *OUTPUTS)
DIAGNOSE_OPTIONS = (JSON, HTML, COLOR, IGNORE)


def _parent(options: Sequence[Option]) -> argparse.ArgumentParser:
    import argparse
    parent = argparse.ArgumentParser(add_help=False)
    for o in options:
        parent.add_argument(*o.flags, **o.kwargs)
    return parent


class Command:
    """A command: its handler (which takes the arguments after the command's name) and the
    options it shares with others."""

    __slots__ = ("name", "handler", "help", "options", "usage", "description", "epilog")

    def __init__(self, name: str, handler: Callable[[Sequence[str]], int], help: str,
                 options: Tuple[Option, ...] = (), usage: Optional[str] = None,
                 description: Optional[str] = None, epilog: Optional[str] = None) -> None:
        self.name, self.handler, self.help, self.options = name, handler, help, options
        self.usage, self.description, self.epilog = usage, description, epilog


_built: Dict[str, Any] = {}


def parser() -> argparse.ArgumentParser:
    """The whole command line's parser, built once, when something needs it."""
    if "parser" not in _built:
        _built["parser"] = build_parser()
    return _built["parser"]


def _parser_class() -> type:
    import argparse

    class _Parser(argparse.ArgumentParser):
        """argparse that raises instead of printing usage and exiting with status 2."""

        def error(self, message: str) -> NoReturn:
            raise UsageError(f"{message}.", f"See `{self.prog} --help`.")

    return _Parser


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser_class = _parser_class()
    parser = parser_class(prog="mpdoctor",
                          description="Find out why a Python multiprocessing program hangs, "
                                      "prove it, and say how to fix it.",
                          epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"mpdoctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.help, usage=c.usage, description=c.description,
                           epilog=c.epilog,
                           parents=[_parent(c.options)] if c.options else [],  # type: ignore
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           add_help=c.name != "lint")
        if c.name == "attach":
            p.add_argument("pid", metavar="PID")
        elif c.name == "diagnose":
            p.add_argument("snapshot", metavar="SNAPSHOT")
        elif c.name == "explain":
            p.add_argument("slug", metavar="SLUG")
        elif c.name == "repro":
            actions = p.add_subparsers(dest="action", metavar="ACTION",
                                       parser_class=parser_class, required=True)
            actions.add_parser("list", help="list the cases")
            actions.add_parser("show", help="show a case's README").add_argument(
                "case", metavar="CASE")
            run = actions.add_parser(
                "run", help="run a case's script under `mpdoctor check`",
                usage="mpdoctor repro run [check options] CASE [FILE] [ARGS...]",
                description="Run one of CASE's scripts under `mpdoctor check`, with check's "
                            "options (--timeout, --json, ...) given before CASE.")
            run.add_argument("case", metavar="CASE")
            run.add_argument("rest", nargs=argparse.REMAINDER, metavar="FILE ARGS",
                             help="the script (default: the case's first) and its arguments")
    return parser


class Args:
    """Parsed options, as attributes (what argparse's Namespace would hold)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def quick_parse(options: Sequence[Option], tokens: Sequence[str]) -> Optional[Args]:
    """The options in ``tokens`` when each is spelt out in full and valid -- the same result
    argparse gives for them -- else None, and argparse decides (and explains what is wrong)."""
    by_flag = {f: o for o in options for f in o.flags}
    values = {o.dest: o.default for o in options}
    i = 0
    while i < len(tokens):
        flag, eq, inline = tokens[i].partition("=")
        if not flag.startswith("--"):
            flag, eq, inline = tokens[i], "", ""
        option = by_flag.get(flag)
        if option is None:
            return None
        i += 1
        if not option.takes_value:
            if eq:
                return None
            values[option.dest] = option.kwargs.get("action") == "store_true"
            continue
        if eq:
            value = inline
        elif i < len(tokens) and (not tokens[i].startswith("-") or tokens[i] == "-"):
            value = tokens[i]
            i += 1
        else:
            return None  # a missing value, or one argparse may take for an option
        choices = option.kwargs.get("choices")
        if choices is not None and value not in choices:
            return None
        if option.kwargs.get("action") == "append":
            values[option.dest].append(value)
        else:
            values[option.dest] = value
    return Args(**values)


def split_check_args(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Split ``check`` arguments into mpdoctor's options and the target's command.

    Everything after the script path (or after ``-m MODULE``, or ``--``) belongs to the script,
    even when it looks like an option of mpdoctor's.  Which options take a value comes from
    their one definition (``CHECK_OPTIONS``)."""
    takes_value = {flag for o in CHECK_OPTIONS if o.takes_value for flag in o.flags}
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
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds <= 0:
        raise UsageError(f"the timeout {value!r} (from {where}) is not a positive number of "
                         "seconds.", "Example: --timeout 30 (or 0.5).")
    return seconds


def resolve_python(path: Optional[str]) -> Tuple[str, bool]:
    """The interpreter to run, and whether mpdoctor (its hooks) is installed for it."""
    if path is None:
        return sys.executable, True
    import shutil

    from mpdoctor.observe import libpaths
    found = path if os.sep in path else shutil.which(path)
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise TargetError(f"--python {path!r} is not an executable file.",
                          "Pass the path of a Python interpreter, e.g. --python /usr/bin/python3.")
    found = os.path.abspath(found)
    # the same question tells the interpreter's library directories, asked again (cached)
    # when the snapshot is taken
    answer = libpaths.probe(found)
    if answer is None:
        raise TargetError(f"--python {path!r} does not run as a Python 3 interpreter.",
                          "Pass the path of a Python 3 interpreter, e.g. "
                          "--python /usr/bin/python3.")
    return found, bool(answer.get("mpdoctor"))


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


def check_script(path: str, python: str = sys.executable) -> None:
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
    # a .py file (or a python #! script) with a syntax error is the script's own failure, and
    # Python reports it; any other file that does not even compile is not a Python program
    if not path.endswith(".py") and not first.startswith(b"#!"):
        from mpdoctor.run.compilecheck import syntax_error
        error = syntax_error(path, python)
        if error:
            raise TargetError(f"{path!r} is not a Python script ({python} cannot compile it: "
                              f"{error}).", "Pass the .py file that starts the processes.")


def _platform() -> None:
    if not sys.platform.startswith("linux") or not os.path.isdir("/proc/self/task"):
        raise PlatformError("mpdoctor needs Linux and its /proc file system to see what each "
                            f"process and thread waits for; this system is {sys.platform!r}.",
                            "Run it on Linux (a container or VM works).")


def cmd_check(argv: Sequence[str]) -> int:
    # only what starting the script needs is imported before it starts (supervisor.py)
    from mpdoctor.run.supervisor import Supervisor

    ours, rest = split_check_args(argv)
    args: Any = quick_parse(CHECK_OPTIONS, ours) or parser().parse_args(["check", *ours])
    if args.module is None and not rest:
        raise UsageError("no script to run.",
                         "Usage: mpdoctor check [options] SCRIPT [ARGS...] (or -m MODULE).")
    if args.timeout is not None:
        if not args.timeout.strip():
            raise UsageError("the timeout '' (from --timeout) is not a positive number of "
                             "seconds.", "Example: --timeout 30 (or 0.5).")
        timeout = parse_timeout(args.timeout, "--timeout")
    else:
        timeout = parse_timeout(os.environ.get("MPDOCTOR_TIMEOUT"), "MPDOCTOR_TIMEOUT")
    _platform()
    python, has_hooks = resolve_python(args.python)
    if args.module is not None:
        check_module(python, args.module)
        command = [python, "-m", args.module, *rest]
    else:
        check_script(rest[0], python)
        # a script name that starts with "-" must not be taken for an option of python's
        command = [python, "--", *rest] if rest[0].startswith("-") else [python, *rest]
    for path, what in ((args.json_path, "--json"), (args.report, "--report"),
                       (args.save_snapshot, "--save-snapshot"), (args.html_path, "--html")):
        if path is not None and path != "-":
            _check_writable(path, what)

    ignore = _ignored(args)
    supervisor = Supervisor(command, timeout=timeout, hooks=not args.no_hooks,
                            status=args.status != "never")
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
    from mpdoctor.exitcodes import exit_code
    from mpdoctor.report import Report

    _silence_findings(outcome, ignore)
    report = Report.of(outcome, exit_code(outcome, strict=args.strict), tuple(command), timeout)
    if args.save_snapshot and outcome.snapshot is not None:
        _save_snapshot(outcome.snapshot, args.save_snapshot, report)
    # the tree is gone; a late Ctrl-C (meant for the script) must not cut the report short
    import signal
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _emit(report, args)
    finally:
        signal.signal(signal.SIGINT, old)
    return report.exit_code


def cmd_attach(argv: Sequence[str]) -> int:
    from mpdoctor.exitcodes import exit_code
    from mpdoctor.report import Report
    from mpdoctor.run.attach import attach

    args = parser().parse_args(["attach", *argv])
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
        if path is not None and path != "-":
            _check_writable(path, what)
    ignore = _ignored(args)
    result = attach(pid, timeout)
    _silence_findings(result, ignore)
    code = exit_code(result)
    report = Report.of(result, code, ("attach", str(pid)), timeout)
    if args.save_snapshot and result.snapshot is not None:
        _save_snapshot(result.snapshot, args.save_snapshot, report)
    _emit(report, args)
    return code


def cmd_diagnose(argv: Sequence[str]) -> int:
    from mpdoctor.diagnose import diagnose
    from mpdoctor.exitcodes import exit_code
    from mpdoctor.model import Outcome, Verdict
    from mpdoctor.observe.snapshot import load_file
    from mpdoctor.report import Report

    args = parser().parse_args(["diagnose", *argv])
    if args.html_path:
        _check_writable(args.html_path, "--html")
    ignore = _ignored(args)
    snapshot = load_file(args.snapshot)
    diagnosis = diagnose(snapshot)
    outcome = Outcome(Verdict.DEADLOCK if diagnosis.deadlock else Verdict.TIMEOUT,
                      diagnosis=diagnosis, snapshot=snapshot)
    _silence_findings(outcome, ignore)
    root = snapshot.root
    report = Report.of(outcome, exit_code(outcome), root.cmdline if root is not None else ())
    args.report = None
    _emit(report, args)
    return report.exit_code


def cmd_repro(argv: Sequence[str]) -> int:
    from rich.console import Console

    from mpdoctor import catalogue

    if argv and argv[0] == "run" and "-h" not in argv[:2] and "--help" not in argv[:2]:
        # check's options come before CASE, as they come before SCRIPT for check
        ours, rest = split_check_args(argv[1:])
        if not rest:
            raise UsageError("no case to run.",
                             "Usage: mpdoctor repro run [check options] CASE [FILE] [ARGS...]; "
                             "`mpdoctor repro list` shows the cases.")
        command = catalogue.command(catalogue.find(rest[0]), rest[1:])
        return cmd_check([*ours, "--", *command])
    args = parser().parse_args(["repro", *argv])
    Console().print(catalogue.listing() if args.action == "list" else catalogue.readme(args.case))
    return 0


def _ignored(args: argparse.Namespace) -> List[str]:
    """The slugs to leave out: --ignore, else MPDOCTOR_IGNORE; each checked against the
    registry before anything starts."""
    if not args.ignore and not os.environ.get("MPDOCTOR_IGNORE"):
        return []
    from mpdoctor.diagnose import check_slugs
    if args.ignore:
        return check_slugs(args.ignore, "--ignore")
    return check_slugs([os.environ["MPDOCTOR_IGNORE"]], "MPDOCTOR_IGNORE")


def _silence_findings(outcome, ignore: Sequence[str]) -> None:
    if not ignore:
        return
    from mpdoctor.diagnose import silence
    outcome.diagnosis, notes = silence(outcome.diagnosis, ignore)
    outcome.notes.extend(notes)


def _save_snapshot(snapshot, path: str, report) -> None:
    from mpdoctor.observe.snapshot import save
    try:
        save(snapshot, path)
    except OSError as err:
        report.notes.append(f"could not write --save-snapshot {path!r}: {err.strerror or err}")


def cmd_explain(argv: Sequence[str]) -> int:
    from rich.console import Console

    from mpdoctor import explain

    args = parser().parse_args(["explain", *argv])
    Console().print(explain.render(args.slug))
    return 0


def _check_writable(path: str, what: str) -> None:
    """Refuse, before anything starts, an output path that cannot be written: a directory, a
    file that may not be written, a folder that does not exist or may not be written to."""
    if path == "":
        raise UsageError(f"{what} needs a path (it was given an empty one).",
                         f"Pass a file name to {what}, e.g. {what} out.txt.")
    if os.path.isdir(path):
        raise UsageError(f"{what} {path!r} is a directory, not a file.",
                         f"Pass a file name to {what}, e.g. {what} "
                         f"{os.path.join(path, 'mpdoctor-report')}.")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{what} {path!r}: the file exists and may not be written.",
                         f"Pass a writable path to {what}.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise UsageError(f"{what} {path!r}: the directory {directory!r} does not exist or is "
                         "not writable.", f"Pass a writable path to {what}.")


def _write_file(path: str, text: str, what: str, failures: List[str]) -> bool:
    """Write one output; a failure (a full disk, say) is noted and costs nothing else."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return True
    except OSError as err:
        failures.append(f"could not write {what} {path!r}: {err.strerror or err}")
        return False


def _stderr_write(text: str) -> None:
    """Write to mpdoctor's stderr, if there is one (it may be closed: ``2>&-``)."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass


def guard_stdio() -> None:
    """Started with stdin, stdout or stderr closed (``2>&-``): /dev/null takes that fd, so that
    no file of mpdoctor's lands there, close-on-exec, so that the script still finds it closed,
    as it would under a plain ``python``."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            if null != fd:
                os.dup2(null, fd, inheritable=False)
                os.close(null)


def _emit(report, args) -> None:
    """Every output the user asked for: JSON first (scripts rely on it), then HTML, then the
    human report.  A failure to write one never stops the others nor changes the exit status:
    it is said in the human report, and the human report itself falls back to stderr when its
    file cannot be written.  A reader that went away (a closed pipe) costs that output only."""
    failures: List[str] = []
    if args.json_path:
        try:
            from mpdoctor.report import jsonreport
            text = jsonreport.render(report)
            if args.json_path == "-":
                # the script may have written to the same stdout, with or without a final
                # newline: the report comes last, as one line of its own
                if sys.stdout is not None:
                    sys.stdout.write("\n" + jsonreport.render(report, compact=True))
                    sys.stdout.flush()
            else:
                _write_file(args.json_path, text, "--json", failures)
        except BrokenPipeError:
            _silence(1)
        except (OSError, ValueError) as err:
            failures.append(f"could not write the JSON report: {err}")
    if getattr(args, "html_path", None):
        try:
            from mpdoctor.report import html
            html.write(report, args.html_path)
        except OSError as err:
            failures.append(f"could not write --html {args.html_path!r}: "
                            f"{err.strerror or err}")
    if failures:
        report.notes.extend(failures)
    if report.silent and not args.report:
        return  # a clean run: nothing to say, and no need to load the renderer
    from mpdoctor.report import console
    color = {"always": True, "never": False}.get(args.color)
    if args.report:
        try:
            with open(args.report, "w", encoding="utf-8") as f:
                console.print_report(report, f, color=bool(color))
            return
        except OSError as err:
            report.notes.append(f"could not write --report {args.report!r} "
                                f"({err.strerror or err}): the report is on stderr instead")
    if sys.stderr is None:
        return
    try:
        sys.stderr.flush()
        console.print_report(report, sys.stderr, color=color)
        from mpdoctor.report import github
        for line in github.lines(report.findings):
            sys.stderr.write(line + "\n")  # stderr: the script's stdout stays its own
        sys.stderr.flush()
    except BrokenPipeError:
        _silence(2)
    except (OSError, ValueError):
        pass


def _silence(fd: int) -> None:
    """The reader of stdout/stderr is gone; keep Python from complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    guard_stdio()
    try:
        command = COMMANDS.get(argv[0]) if argv else None
        if command is not None:
            return command.handler(argv[1:])
        args = parser().parse_args(argv)  # --help, --version, or an unknown command
        if args.command is None:
            parser().print_help(sys.stderr)
            return int(ExitCode.USAGE)
        raise UsageError(f"unknown command {args.command!r}.", "See `mpdoctor --help`.")
    except MpdoctorError as err:
        _stderr_write(f"mpdoctor: error: {err}\n")
        return int(err.exit_code)
    except KeyboardInterrupt:
        _stderr_write("mpdoctor: interrupted\n")
        return 130
    except Exception as err:  # a bug in mpdoctor: one paragraph, traceback only on request
        if os.environ.get("MPDOCTOR_DEBUG") and sys.stderr is not None:
            import traceback
            traceback.print_exc()
        _stderr_write(f"mpdoctor: internal error: {type(err).__name__}: {err}. This is a "
                      "bug in mpdoctor; run again with MPDOCTOR_DEBUG=1 for the traceback "
                      "and report it.\n")
        return int(ExitCode.INTERNAL)


def run() -> NoReturn:
    """The ``mpdoctor`` command (scripts/mpdoctor, ``python -m mpdoctor``): :func:`main`, then
    out at once.  Nothing of the user's runs in this process, and every file mpdoctor writes is
    closed by then: what is left is its own output, flushed here, and the interpreter's
    teardown of every module mpdoctor loaded, which would cost a short script's run time again
    (docs/performance.md)."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def cmd_lint(argv: Sequence[str]) -> int:
    """Parsed by mpdoctor.lint.cli (standard library only: no rich, no psutil)."""
    from mpdoctor.lint.cli import main as lint_main
    return lint_main(list(argv))


#: every command, its handler and the options it shares with others
COMMANDS: Dict[str, Command] = {c.name: c for c in (
    Command("check", cmd_check, "run a script and diagnose it if it hangs", CHECK_OPTIONS,
            usage="mpdoctor check [options] SCRIPT [ARGS...]\n"
                  "       mpdoctor check [options] -m MODULE [ARGS...]",
            description="Run SCRIPT (or -m MODULE) with ARGS. Its output passes through "
                        "untouched. If it deadlocks, mpdoctor proves it, prints the diagnosis "
                        "to stderr and stops the whole process tree.",
            epilog=EPILOG),
    Command("attach", cmd_attach, "diagnose a running process tree mpdoctor did not start",
            ATTACH_OPTIONS, usage="mpdoctor attach [options] PID",
            description="Watch the process PID and its descendants (read-only, from /proc and "
                        "py-spy) until a deadlock is proven or --timeout passes, then report. "
                        "Nothing is stopped.", epilog=ATTACH_EPILOG),
    Command("diagnose", cmd_diagnose, "diagnose a saved snapshot again (no process is touched)",
            DIAGNOSE_OPTIONS,
            description="Run every rule on a snapshot saved with --save-snapshot."),
    Command("explain", cmd_explain,
            "show a diagnosis's page: what happens, how it is proven, the fix",
            description="Print the docs page of a diagnosis (the slug in [brackets] in a "
                        "report)."),
    Command("lint", cmd_lint, "find multiprocessing traps in source code, without running it"),
    Command("repro", cmd_repro, "the catalogue of reproducers: list, show or run a case",
            description="Runnable reproducers of each failure mode, with their fixes."),
)}
