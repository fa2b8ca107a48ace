"""Each crash diagnosis on the events its catalogue case really sent (recorded by
tests/fixtures/record.py: a failed run leaves no snapshot, only the hooks' events)."""

from __future__ import annotations

import pytest

from conftest import load_fixture
from mpdoctor.diagnose import diagnose_crash, diagnose_events

#: fixture -> (the slug, the user's file the finding must point into)
CRASHES = {
    "crash_child_raises.json": ("child-exception", "repro/child_exception/child_raises.py"),
    "crash_child_segfaults.json": ("process-killed", None),
    "crash_initializer_fails.json": ("broken-process-pool",
                                     "repro/broken_process_pool/initializer_fails.py"),
    "crash_manager_dict_after_with.json": ("manager-died",
                                           "repro/manager_died/dict_after_with.py"),
    "crash_daemon_worker_starts_process.json": (
        "daemon-with-children", "repro/daemon_with_children/pool_worker_starts_process.py"),
    "crash_map_after_with.json": ("pool-misuse", "repro/pool_misuse/map_after_with.py"),
    "crash_defined_under_guard.json": ("function-not-found-in-child", None),
    "crash_worker_unlinks.json": ("shared-state-gone",
                                  "repro/shared_state_gone/worker_unlinks.py"),
}


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_each_crash_is_named_from_its_recorded_events(name):
    slug, where = CRASHES[name]
    events = load_fixture(name).events
    found = list(diagnose_events(events))
    found += diagnose_crash(events, found)
    assert [f.slug for f in found] == [slug], [(f.slug, f.summary) for f in found]
    f = found[0]
    assert f.summary and f.fix and f.evidence
    if where is not None:
        assert f.data["site"] and where in f.data["site"], f.data
