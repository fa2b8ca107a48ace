"""Library frames are told by where their file is, as the target's interpreter reports it, never
by a name in the path: a checkout called ``mpdoctor``, the catalogue inside an installed wheel."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from conftest import FIXTURES, load_fixture
from mpdoctor.diagnose import diagnose, stacks
from mpdoctor.hooks import origin
from mpdoctor.model import Libraries, Snapshot, load
from mpdoctor.observe import libpaths

SITE = "/opt/env/lib/python3.11/site-packages"
LIBS = Libraries(stdlib=("/usr/lib/python3.11",), site=(SITE,),
                 mpdoctor=(f"{SITE}/mpdoctor", "/home/u/mpdoctor/src/mpdoctor"),
                 user=(f"{SITE}/mpdoctor/_repro",))


@pytest.mark.parametrize("filename,library", [
    ("/usr/lib/python3.11/threading.py", True),
    ("/usr/lib/python3.11/multiprocessing/queues.py", True),
    (f"{SITE}/rich/console.py", True),
    (f"{SITE}/mpdoctor/hooks/boot.py", True),
    (f"{SITE}/mpdoctor/_repro/never_signalled/event_never_set.py", False),
    ("/home/u/mpdoctor/repro/join_before_drain/seed_hang.py", False),  # a clone's own folder
    ("/home/u/mpdoctor/tests/programs/child_sleeps.py", False),
    ("/home/u/mpdoctor/src/mpdoctor/cli.py", True),
    ("/srv/app/lib/python3.11/site-packages/mine.py", False),  # not this interpreter's
    ("/usr/lib/python3.11x/mine.py", False),  # a prefix of a name is not a directory
    ("<frozen runpy>", True),
    ("relative.py", False),
])
def test_library_by_directory(filename, library):
    assert libpaths.is_library(filename, LIBS) is library


def _relocated(name: str, old: str, new: str) -> Snapshot:
    """A recorded snapshot whose user files moved from ``old`` to ``new``."""
    text = (FIXTURES / name).read_text().replace(old, new)
    return load(Snapshot, json.loads(text))


@pytest.mark.parametrize("name,slug", [
    ("seed_fork.json", "join-before-drain"),
    ("event_never_set_fork.json", "never-signalled"),
    ("both_send_fork.json", "pipe-both-send"),
    ("worker_exits_fork.json", "pool-worker-died"),
])
@pytest.mark.parametrize("where", ["/tmp/clone/mpdoctor/",
                                   "/tmp/dev/lib/python3.11/site-packages/mpdoctor/_repro/"])
def test_rules_see_user_code_in_a_checkout_named_mpdoctor_and_in_the_wheel(name, slug, where):
    snap = _relocated(name, "/work/main/repro/", where)
    d = diagnose(snap)
    assert [f.slug for f in d.findings][:1] == [slug]
    sites = [s for f in d.findings for s in _sites(f.data)]
    assert sites and all(s.startswith(where) for s in sites)


def _sites(data):
    """Every ``site`` value anywhere in a finding's data."""
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "site" and isinstance(v, str):
                yield v
            else:
                yield from _sites(v)
    elif isinstance(data, list):
        for v in data:
            yield from _sites(v)


def test_join_line_named_in_a_clone_named_mpdoctor():
    snap = _relocated("seed_fork.json", "/work/main/", "/tmp/clone/mpdoctor/")
    d = diagnose(snap)
    assert (d.findings[0].data["joiner"]["site"]
            == "/tmp/clone/mpdoctor/repro/join_before_drain/seed_hang.py:30")


def test_old_snapshot_without_libraries_infers_the_stdlib_from_its_stacks():
    snap = dataclasses.replace(load_fixture("event_never_set_fork.json"), libraries=None)
    libs = libpaths.for_snapshot(snap)
    assert "/root/.pyenv/versions/3.11.7/lib/python3.11" in libs.stdlib
    assert libs.source == "inferred from the stacks"
    assert [f.slug for f in diagnose(snap).findings] == ["never-signalled"]


def test_libraries_round_trip_through_the_snapshot_file(tmp_path):
    from mpdoctor.observe.snapshot import load_file, save
    snap = dataclasses.replace(load_fixture("seed_fork.json"), libraries=LIBS)
    save(snap, str(tmp_path / "s.json"))
    assert load_file(str(tmp_path / "s.json")).libraries == LIBS


def test_rendering_uses_the_snapshot_libraries():
    """The console folds by the snapshot's directories, whatever mpdoctor runs on."""
    snap = _relocated("seed_fork.json", "/work/main/", "/tmp/clone/mpdoctor/")
    with stacks.using(snap):
        assert not stacks.is_library("/tmp/clone/mpdoctor/repro/join_before_drain/seed_hang.py")
        assert stacks.is_library("/root/.pyenv/versions/3.11.7/lib/python3.11/threading.py")


def test_current_interpreter_reports_its_own_directories():
    libs = libpaths.current()
    assert os.path.dirname(os.__file__) in libs.stdlib
    import mpdoctor
    assert os.path.dirname(os.path.abspath(mpdoctor.__file__)) in libs.mpdoctor
    assert libpaths.is_library(os.__file__, libs)
    assert libpaths.is_library(stacks.__file__, libs)
    assert not libpaths.is_library(__file__, libs)


OTHER = [p for p in (f"/root/.pyenv/versions/{v}/bin/python" for v in
                     ("3.9.18", "3.12.1", "3.15.2")) if os.access(p, os.X_OK)
         and os.path.realpath(p) != os.path.realpath(sys.executable)]


@pytest.mark.skipif(not OTHER, reason="no other interpreter installed")
def test_another_interpreter_is_asked(tmp_path):
    python = OTHER[0]
    answer = subprocess.run([python, "-c", "import os; print(os.path.dirname(os.__file__))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    libs = libpaths.ask(python)
    assert libs is not None and answer in libs.stdlib
    assert libs.source == f"interpreter {python}"
    assert libpaths.ask(str(tmp_path / "nosuch")) is None


def test_a_running_process_is_asked_through_the_path_it_was_started_by(tmp_path):
    """A venv's python is a symlink: /proc/PID/exe is the base binary, but the command line's
    path is the one that knows the venv's site-packages."""
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    child = subprocess.Popen([python, "-c", "import sys; print('ready', flush=True); "
                              "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"ready"
        assert libpaths.interpreter_of(child.pid) == python
        libs = libpaths.of_process(child.pid)
        assert libs is not None
        assert any(s.startswith(f"{venv}/") for s in libs.site), libs.site
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("filename,library", [
    (os.__file__, True),
    (origin.__file__, True),
    (os.path.join(os.path.dirname(os.path.dirname(origin.__file__)), "_repro", "x", "a.py"),
     False),
    ("/tmp/mpdoctor/script.py", False),
    ("<string>", True),
])
def test_hooks_tell_library_code_by_directory(filename, library):
    assert origin.is_library(filename) is library
