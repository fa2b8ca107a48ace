"""Rules on recorded snapshots: fast, no processes."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import load_fixture
from mpdoctor.diagnose import diagnose

SEEDS = ["seed_fork.json", "seed_spawn.json", "seed_forkserver.json"]


@pytest.mark.parametrize("name", SEEDS)
def test_join_before_drain_on_the_seed(name):
    snap = load_fixture(name)
    d = diagnose(snap)
    assert d.deadlock
    [f] = d.findings
    assert f.slug == "join-before-drain"
    assert f.severity.value == "error"
    assert f.data["joiner"]["pid"] == snap.root_pid
    assert f.data["joiner"]["site"].endswith("repro/join_before_drain/seed_hang.py:30")
    pipe = snap.pipe_by_inode[f.data["pipe"]["inode"]]
    assert snap.root_pid in {h.pid for h in pipe.readers}
    [writer] = f.data["blocked_writers"]
    assert writer["feeder"] and writer["bytes_to_write"] == 40030
    assert f"pipe:[{pipe.inode}]" in " ".join(f.evidence)
    assert "seed_hang.py:30" in f.summary
    assert f.docs == "docs/diagnoses/join-before-drain.md"
    assert f.repro == "repro/join_before_drain/fix_drain_first.py"
    assert "get()" in f.fix and "join()" in f.fix


@pytest.mark.parametrize("name", SEEDS)
def test_join_before_drain_without_python_stacks(name):
    """procfs alone proves it; only the join line is then unknown."""
    snap = load_fixture(name)
    bare = dataclasses.replace(snap, processes=tuple(
        dataclasses.replace(p, threads=tuple(dataclasses.replace(t, frames=()) for t in p.threads))
        for p in snap.processes))
    [f] = diagnose(bare).findings
    assert f.slug == "join-before-drain"
    assert f.data["joiner"]["site"] is None
    assert any("join line is unknown" in e for e in f.evidence)



@pytest.mark.parametrize("name", ["producer_dies_fork.json", "producer_dies_spawn.json"])
def test_get_without_producer(name):
    snap = load_fixture(name)
    d = diagnose(snap)
    assert d.deadlock
    [f] = d.findings
    assert f.slug == "get-without-producer"
    assert f.data["reader"]["pid"] == snap.root_pid
    assert f.data["reader"]["call"] == "Queue.get()"
    assert f.data["reader"]["site"].endswith("tests/programs/producer_dies.py:16")
    assert f.data["writers"] == [snap.root_pid]  # only the reader itself holds the write end
    assert len(f.data["dead_children"]) == 1
    assert any("exited with status 1" in e for e in f.evidence)


def test_seed_is_not_mistaken_for_get_without_producer():
    # the resource tracker reads a pipe nobody writes to any more, but it is library code
    d = diagnose(load_fixture("seed_spawn.json"))
    assert [f.slug for f in d.findings] == ["join-before-drain"]
