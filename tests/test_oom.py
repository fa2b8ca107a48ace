"""Who sent a SIGKILL (observe/oom.py, crashes.with_oom): the kernel's OOM killer, named by the
kernel log or counted by the script's memory cgroup, or another process."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from conftest import run_check
from mpdoctor.diagnose.crashes import KILLED, with_oom
from mpdoctor.model import Finding, OomCounter, OomFacts, Severity
from mpdoctor.observe import oom

V2_LINE = ("6,1234,5678,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,"
           "mems_allowed=0,oom_memcg=/a/b,task_memcg=/a/b,task=python,pid=4321,uid=0\n")
OLD_LINE = "3,99,100,-;Memory cgroup out of memory: Killed process 777 (python) total-vm:1kB\n"


def test_the_kernel_log_names_each_process_the_oom_killer_killed():
    kills = oom.kills_in([V2_LINE, OLD_LINE, "6,1,2,-;python[5]: segfault at 0 ip 0\n"])
    assert set(kills) == {4321, 777}
    assert kills[4321].startswith("oom-kill:constraint=CONSTRAINT_MEMCG")
    assert kills[777].startswith("Memory cgroup out of memory: Killed process 777")


def test_the_kernel_log_is_read_to_its_end_without_waiting(tmp_path):
    log = tmp_path / "kmsg"
    log.write_text(V2_LINE)
    kills, why = oom.kernel_kills(str(log))
    assert why == "" and set(kills or {}) == {4321}
    kills, why = oom.kernel_kills(str(tmp_path / "absent"))
    assert kills is None and "kernel log" in why


@pytest.mark.parametrize("name,text", [
    ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 0\n"),
    ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")])
def test_the_cgroup_counter_is_read_from_v1_and_v2_files(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert oom.read_counter(str(path)) == (str(path), 2)
    assert oom.read_counter(str(tmp_path / "none")) is None


def test_this_process_has_a_counter_or_none():
    found = oom.memory_cgroup(os.getpid())
    assert found is None or (os.path.exists(found) and found.endswith(
        ("memory.events", "memory.oom_control")))


def _killed(pid=4321, code=-9):
    from mpdoctor.diagnose.crashes import _exit_text
    return Finding(slug=KILLED, severity=Severity.ERROR,
                   summary=f"child {pid} {_exit_text(code)}, and the script failed",
                   evidence=(f"process 1 saw its child {pid} end: it {_exit_text(code)}",),
                   fix="A signal ended the child.",
                   data={"children": [{"pid": pid, "exitcode": code, "parent": 1}]})


C0, C1 = OomCounter("/cg/memory.events", 0), OomCounter("/cg/memory.events", 1)


def test_a_kill_the_kernel_log_names_is_the_oom_killers():
    [f] = with_oom([_killed()], OomFacts(C0, C0, {4321: "oom-kill:...pid=4321"}))
    assert "(by the kernel's out-of-memory killer)" in f.summary
    assert f.data["oom"] == {"4321": "oom-killer"}
    assert any("kernel log" in e for e in f.evidence) and "memory" in f.fix


def test_a_kill_the_cgroup_counted_is_likely_the_oom_killers():
    [f] = with_oom([_killed()], OomFacts(C0, C1, None, ("the kernel log",)))
    assert f.data["oom"] == {"4321": "oom-killer-likely"}
    assert any("oom_kill 0 -> 1" in e for e in f.evidence)


def test_a_kill_neither_source_knows_was_sent_by_a_process():
    [f] = with_oom([_killed()], OomFacts(C0, C0, {}))
    assert f.data["oom"] == {"4321": "not-oom-killer"}
    assert "not the out-of-memory killer" in f.summary


def test_when_nothing_can_be_read_it_says_so():
    [f] = with_oom([_killed()], OomFacts(None, None, None, ("the kernel log (/dev/kmsg): "
                                                             "Permission denied",)))
    assert f.data["oom"] == {"4321": "unknown"}
    assert any("Permission denied" in e for e in f.evidence)
    assert "out-of-memory killer)" in f.summary  # (the text of before: either may have sent it)


def test_other_signals_are_left_alone():
    f = _killed(code=-11)
    assert with_oom([f], OomFacts(C0, C1, {4321: "x"})) == [f]


PROGRAM = textwrap.dedent('''
    import multiprocessing as mp, os, sys
    def hog(cgroup):
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        blocks = []
        while True:
            blocks.append(bytearray(16 << 20))
    if __name__ == "__main__":
        p = mp.get_context("fork").Process(target=hog, args=(sys.argv[1],))
        p.start()
        p.join()
        sys.exit(1 if p.exitcode else 0)
''')


@pytest.fixture
def small_cgroup():
    """A memory cgroup of 64 MiB below this process's own (root and cgroup v1 only)."""
    own = oom.memory_cgroup(os.getpid())
    if own is None or not own.endswith("memory.oom_control") or os.geteuid() != 0:
        pytest.skip("needs root and a cgroup v1 memory hierarchy to make a small cgroup")
    path = Path(own).parent / f"mpdoctor-test-{os.getpid()}"
    try:
        path.mkdir()
        (path / "memory.limit_in_bytes").write_text(str(64 << 20))
    except OSError as exc:
        pytest.skip(f"cannot make a memory cgroup here: {exc}")
    yield path
    path.rmdir()  # (its only process was killed and reaped: it is empty)


def test_a_worker_killed_by_the_oom_killer_is_named_so(tmp_path, small_cgroup):
    if oom.kernel_kills()[0] is None and not oom.memory_cgroup(os.getpid()):
        pytest.skip("neither the kernel log nor a cgroup counter can be read")
    script = tmp_path / "hog.py"
    script.write_text(PROGRAM)
    run = run_check(str(script), str(small_cgroup), tmp_path=tmp_path)
    assert run.rc == 1, run.stderr
    [f] = [f for f in run.report["findings"] if f["slug"] == "process-killed"]
    assert set(f["data"]["oom"].values()) <= {"oom-killer", "oom-killer-likely"}, f
    assert "out-of-memory" in f["summary"] or "OOM" in " ".join(f["evidence"])
