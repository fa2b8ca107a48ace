import subprocess
import sys

import pytest

from conftest import INTERNAL, PROGRAMS, ROOT, USAGE
from mpdoctor import cli
from mpdoctor.run import compilecheck
from mpdoctor.errors import UsageError


def split(*argv):
    return cli.split_check_args(list(argv))


def test_arguments_after_the_script_belong_to_it():
    assert split("--timeout", "5", "s.py", "--timeout", "x", "-m") == (
        ["--timeout", "5"], ["s.py", "--timeout", "x", "-m"])
    assert split("-m", "pkg.mod", "--json", "a") == (["-m", "pkg.mod"], ["--json", "a"])
    assert split("--json=r.json", "--", "-weird.py") == (["--json=r.json"], ["-weird.py"])


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", ""])
def test_bad_timeouts_say_where_they_came_from(value):
    if value == "":
        assert cli.parse_timeout(value, "MPDOCTOR_TIMEOUT") is None
        return
    with pytest.raises(UsageError) as err:
        cli.parse_timeout(value, "MPDOCTOR_TIMEOUT")
    assert "MPDOCTOR_TIMEOUT" in str(err.value) and "Example" in str(err.value)


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mpdoctor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("args,needle", [
    (["check", "no/such/script.py"], "does not exist"),
    (["check", "tests"], "directory without __main__.py"),
    (["check", sys.executable], "binary file"),
    (["check", "--timeout", "soon", "x.py"], "--timeout"),
    (["check", "--bogus", "x.py"], "unrecognized arguments"),
    (["check"], "no script to run"),
    (["check", "--python", "/bin/true", "x.py"], "Python 3"),
    (["check", "-m"], "needs a MODULE"),
])
def test_bad_input_is_one_clear_paragraph(args, needle, tmp_path):
    r = run(*args)
    assert r.returncode == USAGE, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("mpdoctor: error: ") and r.stderr.count("\n") == 1


def test_shell_script_is_refused(tmp_path):
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    r = run("check", str(script))
    assert r.returncode == USAGE and "not a Python script" in r.stderr


def test_syntax_error_is_the_scripts_own(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("def f(:\n")
    r = run("check", str(script))
    assert r.returncode == 1
    assert "SyntaxError" in r.stderr


def test_environment_timeout_is_validated():
    import os
    env = dict(os.environ, MPDOCTOR_TIMEOUT="never")
    r = run("check", str(PROGRAMS / "output.py"), env=env)
    assert r.returncode == USAGE and "MPDOCTOR_TIMEOUT" in r.stderr


def test_diagnose_a_saved_snapshot():
    r = run("diagnose", "tests/fixtures/seed_fork.json")
    assert r.returncode == 86
    assert "join-before-drain" in r.stderr


def test_diagnose_a_bad_snapshot(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = run("diagnose", str(bad))
    assert r.returncode == USAGE and "cannot read the snapshot" in r.stderr


def test_help_and_version():
    assert run("--version").stdout.startswith("mpdoctor ")
    r = run("check", "--help")
    assert r.returncode == 0 and "86 = deadlock proven" in r.stdout
    assert INTERNAL == 89


# -- what a newcomer ran into --------------------------------------------------------------------

def test_a_text_file_that_is_no_python_is_bad_input(tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    for path in (str(passwd), "/etc/passwd"):
        r = run("check", path)
        assert r.returncode == USAGE, r.stderr
        assert r.stderr.startswith(f"mpdoctor: error: '{path}' is not a Python script")
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_a_text_file_that_is_no_python_for_another_interpreter(tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    # a path that is not mpdoctor's own interpreter is asked in a subprocess
    import os
    os.symlink(sys.executable, tmp_path / "py")
    assert "SyntaxError" in compilecheck.syntax_error(str(passwd), str(tmp_path / "py"))
    assert compilecheck.syntax_error(str(PROGRAMS / "output.py"), str(tmp_path / "py")) == ""


def test_repro_run_with_a_script_the_case_lacks_is_bad_input():
    r = run("repro", "run", "join_before_drain", "nosuch")
    assert r.returncode == USAGE, r.stderr
    assert r.stderr.startswith("mpdoctor: error: the case 'join_before_drain' has no script "
                               "'nosuch'.")
    assert "seed_hang.py" in r.stderr and "Traceback" not in r.stderr


def test_diagnose_a_file_that_is_no_snapshot(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("{}\n")
    r = run("diagnose", str(empty))
    assert r.returncode == USAGE
    assert "is not a snapshot saved by mpdoctor" in r.stderr and "__init__" not in r.stderr
    assert r.stderr.count("\n") == 1


def test_diagnose_json_names_the_snapshot_command(tmp_path):
    import json
    r = run("diagnose", "tests/fixtures/seed_fork.json", "--json", str(tmp_path / "r.json"))
    assert r.returncode == 86
    data = json.loads((tmp_path / "r.json").read_text())
    snap = json.loads(open("tests/fixtures/seed_fork.json").read())
    [root] = [p for p in snap["processes"] if p["pid"] == snap["root_pid"]]
    assert data["script"]["command"] == root["cmdline"]
    assert data["script"]["command"][1:] == ["repro/join_before_drain/seed_hang.py", "20000",
                                             "fork"]
    assert data["script"]["status"] is None


def test_attach_help_explains_every_option_and_its_own_exit_codes():
    r = run("attach", "--help")
    assert r.returncode == 0
    for option in ("--json PATH ", "--report FILE ", "--save-snapshot PATH ", "--color "):
        line = next(x for x in r.stdout.splitlines() if x.strip().startswith(option.strip()))
        assert len(line.split()) > 2 or option == "--color ", line  # help text beside it
    assert "0 = the process ended while it was watched" in r.stdout
    assert "--strict" not in r.stdout and "90 =" not in r.stdout


# -- the quick reading of check's options: the same as argparse's, or none at all -------------

QUICK_CASES = [
    [],
    ["--timeout", "5"],
    ["--timeout=0.5", "--json", "-", "--color", "never"],
    ["--json", "r.json", "--json", "s.json"],  # the last wins, as with argparse
    ["--ignore", "a", "--ignore=b,c", "--strict", "--no-hooks"],
    ["--status", "never", "--python", "/usr/bin/python3", "--report", "out.txt"],
    ["--html", "x.html", "--save-snapshot", "s.json", "-m", "pkg.mod"],
    ["--json", ""],
    ["--color=always", "--status=auto"],
    # argparse decides these (abbreviations, mistakes, help, odd values)
    ["--time", "5"],
    ["--color", "pink"],
    ["--timeout"],
    ["--report", "--json", "x"],
    ["--timeout", "-5"],
    ["--strict=yes"],
    ["-h"],
    ["--no-such-option"],
    ["-m", "-x"],
]


@pytest.mark.parametrize("tokens", QUICK_CASES)
def test_the_quick_reading_of_check_options_agrees_with_argparse(tokens):
    quick = cli.quick_parse(cli.CHECK_OPTIONS, tokens)
    try:
        full = vars(cli.build_parser().parse_args(["check", *tokens]))
    except (UsageError, SystemExit):
        assert quick is None  # argparse refuses it (or prints help): so must the quick path
        return
    full.pop("command", None)
    if quick is not None:
        assert vars(quick) == full


def test_the_quick_reading_takes_every_option_spelt_in_full():
    tokens = []
    for option in cli.CHECK_OPTIONS:
        tokens.append(option.flags[-1])
        if option.takes_value:
            choices = option.kwargs.get("choices")
            tokens.append(choices[-1] if choices else "value")
    quick = cli.quick_parse(cli.CHECK_OPTIONS, tokens)
    assert quick is not None
    full = vars(cli.build_parser().parse_args(["check", *tokens]))
    full.pop("command", None)
    assert vars(quick) == full


def test_the_command_line_before_the_script_starts_imports_nothing_heavy():
    """What ``mpdoctor check`` loads before the script's first line: none of the modules that
    cost milliseconds each (typing, re, enum, argparse, socket, ctypes, threading...)."""
    heavy = ("typing", "re", "enum", "argparse", "socket", "ctypes", "threading", "json",
             "subprocess", "dataclasses", "signal", "rich", "psutil")
    code = ("import sys; from mpdoctor import cli; "
            "cli.quick_parse(cli.CHECK_OPTIONS, ['--timeout', '5', '--json', 'x']); "
            "import mpdoctor.run.supervisor; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_what_loads_while_the_script_starts_imports_neither_typing_nor_re():
    """The rest of the watch's set-up, loaded while the script starts (a short script's run
    would wait for it)."""
    code = ("import sys; import mpdoctor.cli, mpdoctor.run.supervisor; "
            "from mpdoctor.observe import oom, procfs; from mpdoctor.run import events, members; "
            "import mpdoctor.outcome, mpdoctor.report, mpdoctor.exitcodes; "
            "print(','.join(m for m in ('typing', 're', 'socket', 'ctypes', 'json', 'argparse') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
