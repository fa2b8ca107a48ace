"""The catalogue of reproducers (repro/) and the docs: every script does under mpdoctor what its
README's outcome table says, every slug mpdoctor can emit has a docs page, the threshold model
agrees with the recorded measurements, and ``mpdoctor repro`` lists, shows and runs cases."""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import DEADLOCK, REPRO, ROOT, USAGE, kill_session, run_check
from mpdoctor import catalogue, diagnose
from mpdoctor.diagnose import registry
from mpdoctor.errors import UsageError

CASES = catalogue.cases(REPRO)
RUNS = [(case, run) for case in CASES for run in case.runs]
DOCS = ROOT / "docs"


def emitted_slugs() -> set:
    """Every slug mpdoctor can put in a report: the registry's, once the rules are loaded."""
    registry.load()
    return set(registry.SLUGS)


def test_every_rule_module_registers_its_slugs_and_rules():
    """A slug constant in a rule module that the registry does not know, or a rule module
    with no rule, would be a diagnosis that can never be reported."""
    for info in pkgutil.iter_modules(diagnose.__path__):
        if info.name in registry.HELPERS:
            continue
        module = importlib.import_module(f"mpdoctor.diagnose.{info.name}")
        declared = {v for k, v in vars(module).items() if (k == "SLUG" or k.isupper())
                    and isinstance(v, str) and re.fullmatch(r"[a-z]+(-[a-z]+)+", v)}
        assert declared <= set(registry.SLUGS), f"{info.name}: {declared}"
        assert any(r.func.__module__ == module.__name__ for r in registry.RULES), info.name
    assert set(diagnose.SLUGS) == emitted_slugs()


def test_the_docs_index_and_site_navigation_list_every_slug():
    index = set(re.findall(r"\[([a-z-]+)\]\(diagnoses/\1\.md\)", (DOCS / "index.md").read_text()))
    nav = set(re.findall(r"- ([a-z-]+): diagnoses/\1\.md", (ROOT / "mkdocs.yml").read_text()))
    assert index == emitted_slugs()
    assert nav == emitted_slugs()


def test_the_readme_table_is_the_registry():
    """README.md's table of diagnoses says what the registry says, slug for slug."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| slug | what |"):]
    table = table[:table.index("\n\n")]
    registry.load()
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (.+) \|$", table, re.M))
    assert rows == {s: info.title for s, info in registry.SLUGS.items()}


# -- the catalogue's claims ----------------------------------------------------------------------

def test_the_catalogue_has_the_cases_of_the_lessons():
    names = {c.name for c in CASES}
    assert {"os_fork", "process_start_join", "pool_basics", "pool_in_class",
            "processes_with_threads", "queue_between_processes", "join_before_drain"} <= names


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_script_is_run_by_its_readme(case):
    assert case.runs, f"{case.readme} has no outcome table"
    run_scripts = {run.script for run in case.runs}
    assert run_scripts <= set(case.scripts), f"rows name scripts that do not exist: {case.name}"
    assert set(case.scripts) <= run_scripts, (
        f"scripts of {case.name} that no row of its README runs: "
        f"{sorted(set(case.scripts) - run_scripts)}")


def test_readmes_claim_only_slugs_mpdoctor_emits():
    claimed = {slug for _, run in RUNS for slug in run.slugs}
    assert claimed <= emitted_slugs()
    for _, run in RUNS:
        assert run.verdict in ("ok", "failed", "deadlock", "timeout")
        if run.verdict == "deadlock":  # a proven deadlock always says what it is
            assert run.slugs, run


#: rows run at once: most of a row's time is spent waiting (a hang forming, a --timeout), so a
#: few at a time cut the suite's time without loading the machine much
AT_ONCE = 3


class Rows:
    """Every README row, run through ``command`` a few at a time in the background from the
    first test that asks; each row's test then checks its own result."""

    def __init__(self, tmp_path_factory, wanted, command=None):
        self.tmp = tmp_path_factory
        self.wanted = wanted  # the rows whose tests were selected (-k runs one, not all)
        self.command = command
        self.pool = None
        self.futures = {}

    def _one(self, case, run):
        tmp = self.tmp.mktemp("row")
        argv = list(run.argv)
        i = run.script_index
        if self.command is None:  # the checkout: mpdoctor check repro/CASE/FILE.py
            argv[i] = str(case.path / run.script)
            return run_check(*argv, tmp_path=tmp)
        cwd = tmp / "elsewhere"  # an installed mpdoctor: repro run CASE FILE from elsewhere
        cwd.mkdir()
        return run_check(*argv[:i], case.name, argv[i], *argv[i + 1:], tmp_path=tmp,
                         command=self.command, cwd=cwd)

    def result(self, case, run):
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=AT_ONCE)
            for c, r in RUNS:
                if (c.name, r.argv) in self.wanted:
                    self.futures[(c.name, r.argv)] = self.pool.submit(self._one, c, r)
        return self.futures[(case.name, run.argv)].result(timeout=600)

    def close(self):
        if self.pool is not None:
            for f in self.futures.values():
                f.cancel()
            self.pool.shutdown(wait=True)


def _selected(request, test_name):
    return {(item.callspec.params["case"].name, item.callspec.params["run"].argv)
            for item in request.session.items
            if getattr(item, "originalname", None) == test_name}


@pytest.fixture(scope="module")
def checkout_rows(request, tmp_path_factory):
    rows = Rows(tmp_path_factory, _selected(request, "test_script_does_what_its_readme_says"))
    yield rows
    rows.close()


@pytest.fixture(scope="module")
def wheel_rows(request, tmp_path_factory, wheel_install):
    rows = Rows(tmp_path_factory,
                _selected(request, "test_installed_wheel_does_what_the_readme_says"),
                [str(wheel_install / "bin" / "mpdoctor"), "repro", "run"])
    yield rows
    rows.close()


def _check_row(result, run):
    assert result.report is not None, result.stderr
    assert (result.rc, result.report["verdict"]) == (run.exit_code, run.verdict), result.stderr
    assert sorted(set(result.slugs)) == sorted(run.slugs), result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("case,run", RUNS,
                         ids=[f"{c.name}:{' '.join(r.argv)}" for c, r in RUNS])
def test_script_does_what_its_readme_says(case, run, checkout_rows):
    _check_row(checkout_rows.result(case, run), run)


@pytest.mark.e2e
@pytest.mark.parametrize("case,run", RUNS,
                         ids=[f"{c.name}:{' '.join(r.argv)}" for c, r in RUNS])
def test_installed_wheel_does_what_the_readme_says(case, run, wheel_rows):
    """The same row, as a user who ran ``pip install mpdoctor`` runs it: ``mpdoctor repro run``
    from a folder outside the checkout, on the copy of the catalogue inside site-packages."""
    result = wheel_rows.result(case, run)
    _check_row(result, run)
    ran = result.report["script"]["command"]
    assert f"{os.sep}mpdoctor{os.sep}_repro{os.sep}{case.name}{os.sep}" in " ".join(ran)


def test_wheel_install_runs_its_own_copy(wheel_install, tmp_path):
    python = str(wheel_install / "bin" / "python")
    code = ("import mpdoctor, mpdoctor.catalogue as c, sysconfig; "
            "print(mpdoctor.__file__); print(c.root()); print(sysconfig.get_paths()['purelib'])")
    out = subprocess.run([python, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    package, root, purelib = out
    assert Path(package).parent == Path(purelib) / "mpdoctor"
    assert Path(root) == Path(purelib) / "mpdoctor" / "_repro"
    assert ROOT not in Path(package).parents


# -- docs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("slug", sorted(emitted_slugs()))
def test_every_slug_has_a_docs_page_with_a_reproducer(slug):
    page = DOCS / "diagnoses" / f"{slug}.md"
    assert page.is_file(), f"no docs page for {slug}"
    text = page.read_text()
    assert text.startswith(f"# {slug}\n")
    scripts = re.findall(r"repro/[a-z_]+/[a-z_]+\.py", text)
    assert scripts, f"{page} names no reproducer"
    for script in scripts:
        assert (ROOT / script).is_file(), f"{page} names {script}, which does not exist"


def test_findings_point_at_pages_and_examples_that_exist():
    from mpdoctor.diagnose import join_before_drain
    assert (ROOT / join_before_drain.DOCS).is_file()
    assert (ROOT / join_before_drain.REPRO).is_file()
    assert (DOCS / "diagnoses" / f"{diagnose.UNEXPLAINED}.md").is_file()


# -- the threshold model --------------------------------------------------------------------------

def _threshold():
    path = REPRO / "join_before_drain" / "threshold.py"
    spec = importlib.util.spec_from_file_location("threshold", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _recorded_table():
    text = (REPRO / "join_before_drain" / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) \| ([\d,]+) \| (\d+) \| (\d+) \| (\d+) \|$", text, re.M)
    return [tuple(int(cell.replace(",", "")) for cell in row) for row in rows]


def test_threshold_table_is_recorded_for_the_five_child_counts():
    assert [row[0] for row in _recorded_table()] == [1, 2, 3, 10, 20]


@pytest.mark.parametrize("row", _recorded_table(), ids=lambda r: f"{r[0]} children")
def test_threshold_model_predicts_the_measured_values(row):
    """No process here: the model alone, against what `threshold.py measure` recorded."""
    t = _threshold()
    children, item_bytes, naive, model, measured = row
    predicted = t.first_hanging(children, capacity=65536, page=4096)
    assert predicted == model == measured
    assert t.HEADER + t.pickled_size(predicted) == item_bytes
    assert t.naive_first_hanging(children, capacity=65536) == naive
    # a single step from "fits" to "hangs" around the threshold: bisection is sound there
    window = range(max(predicted - 300, 0), predicted + 300)
    assert [n for n in window if not t.fits(children, n)] == list(range(predicted,
                                                                      window.stop))


def test_threshold_model_follows_the_kernel_merge_rule():
    t = _threshold()
    pipe = t.PipeModel(capacity=4 * 4096, page=4096)
    assert pipe.write(2050) and pipe.write(2050)  # two tails that cannot share a page
    assert pipe.used == [2050, 2050]
    assert pipe.write(2046) and pipe.used == [2050, 4096]  # fits in the last page: merged
    assert pipe.write(4096 + 10) and pipe.used == [2050, 4096, 4096, 10]  # no room for the tail
    assert not pipe.write(4096)  # all four slots taken


@pytest.mark.e2e
def test_threshold_probe_measures_one_point_and_leaves_nothing():
    """Twenty children: N = 1007 ends, N = 1008 hangs (the hang costs one probe timeout)."""
    t = _threshold()
    assert t.probe(20, 1007, timeout=30) is True
    assert t.probe(20, 1008, timeout=3) is False  # probe() returns only once its group is gone


# -- mpdoctor repro ------------------------------------------------------------------------------

def repro(*args: str, timeout: float = 120):
    """``mpdoctor repro ...`` in a session of its own; nothing of it may be left afterwards."""
    proc = subprocess.Popen([sys.executable, "-m", "mpdoctor", "repro", *args], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, text=True,
                            env={**os.environ, "COLUMNS": "100"})
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        left = kill_session(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert not left, f"processes left running: {left}"
    return proc.returncode, out, err


def test_repro_list_names_every_case():
    rc, out, err = repro("list")
    assert rc == 0, err
    for case in CASES:
        assert case.name in out


def test_repro_show_renders_the_readme():
    rc, out, err = repro("show", "join-before-drain")
    assert rc == 0, err
    assert "The threshold, exactly" in out and "3056" in out
    assert "## " not in out  # rendered, not the raw Markdown


def test_repro_unknown_case_lists_the_cases():
    rc, out, err = repro("show", "no_such_case")
    assert rc == USAGE
    assert err.startswith("mpdoctor: error: there is no case 'no_such_case'")
    assert "join_before_drain" in err and "pool_basics" in err


@pytest.mark.e2e
def test_repro_run_has_the_exit_status_of_check():
    rc, out, err = repro("run", "join_before_drain", "fix_drain_first", "2000")
    assert rc == 0, err
    assert out == "received 10 items of 4000 characters each\n"
    rc, out, err = repro("run", "join_before_drain")  # seed_hang.py, 20000 by default
    assert rc == DEADLOCK, err
    assert "[join-before-drain]" in err and "seed_hang.py:30" in err


def test_run_arguments_choose_the_file_or_go_to_the_default_script():
    case = catalogue.find("join_before_drain", REPRO)
    path = case.path
    assert catalogue.command(case, []) == [str(path / "seed_hang.py")]
    assert catalogue.command(case, ["2000", "spawn"]) == [str(path / "seed_hang.py"), "2000",
                                                          "spawn"]
    assert catalogue.command(case, ["fix_pool", "7"]) == [str(path / "fix_pool.py"), "7"]
    assert catalogue.command(case, ["fix_pool.py"]) == [str(path / "fix_pool.py")]
    with pytest.raises(UsageError, match="has no script 'nope.py'"):
        catalogue.command(case, ["nope.py"])


def test_outcome_rows_are_parsed_exactly():
    text = ("| run | exit status | verdict | finding |\n|---|---|---|---|\n"
            "| `mpdoctor check --timeout 2 a.py 1 'x y'` | 87 | timeout | none |\n"
            "| `mpdoctor check b.py` | 86 | deadlock | `join-before-drain` |\n"
            "| `python c.py` | 0 | ok | none |\n")
    runs = catalogue.parse_runs(text)
    assert [r.argv for r in runs] == [("--timeout", "2", "a.py", "1", "x y"), ("b.py",)]
    assert runs[0].script == "a.py" and runs[0].slugs == () and runs[0].exit_code == 87
    assert runs[1].slugs == ("join-before-drain",)


def test_the_source_checkout_catalogue_is_found():
    assert catalogue.root() in (REPRO, Path(catalogue.__file__).parent / "_repro")


def test_the_docs_catalogue_page_lists_every_case():
    text = (DOCS / "catalogue.md").read_text()
    for case in CASES:
        assert f"| `{case.name}` |" in text, f"docs/catalogue.md does not list {case.name}"
