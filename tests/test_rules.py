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

