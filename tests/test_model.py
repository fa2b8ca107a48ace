import json

from conftest import FIXTURES, load_fixture
from mpdoctor.model import Snapshot, WaitKind, dump, load


def test_snapshot_round_trip():
    snap = load_fixture("seed_fork.json")
    again = load(Snapshot, json.loads(json.dumps(dump(snap))))
    assert again == snap
    assert isinstance(again.processes, tuple)
    assert isinstance(again.processes[0].threads[0].wait.kind, WaitKind)


def test_unknown_keys_are_ignored():
    data = json.loads((FIXTURES / "seed_fork.json").read_text())
    data["from_the_future"] = 1
    data["processes"][0]["also_new"] = {"x": 1}
    assert load(Snapshot, data).root_pid == data["root_pid"]
