"""Real-world cases (../shared/corpus: small programs rewritten from public bug reports, each
with its expected outcome) under ``mpdoctor check``.  Read in place; skipped where absent.

A ``hang`` must be proven (``deadlock``) with the slug its category maps to, or come out as
``timeout`` with that slug where nothing can be proven (a child that keeps polling, a pool that
keeps replacing workers).  ``ok`` and ``crash`` cases must end with their own status and are
never called a deadlock."""

from __future__ import annotations

import json

import pytest

from conftest import CORPUS, DEADLOCK, TIMEOUT, run_check

pytestmark = pytest.mark.e2e

# the corpus's categories -> mpdoctor's slugs
SLUG_OF = {
    "queue_full_no_consumer": "put-without-consumer",
    "feeder_dropped_item": "feeder-dropped-item",
    "fork_with_lock_held": "fork-with-lock-held",
    "join_before_drain": "join-before-drain",
    "joinable_queue_task_done_missing": "never-signalled",
    "feeder_blocks_exit": "exit-blocked-by-child",
    "missing_main_guard": "missing-main-guard",
    "daemonic_children": None,
    "nondaemon_child_blocks_exit": "exit-blocked-by-child",
    "pipe_both_send": "pipe-both-send",
    "pipe_eof_never_delivered": "get-without-producer",
    "pool_join_without_close": None,
    "unpicklable_payload": "unpicklable-payload",
    "pool_exception_unpickle_failed": "pool-result-handler-died",
    "pool_worker_died": "pool-worker-died",
    "producer_died": "get-without-producer",
    "never_set_event": "never-signalled",
}
# hangs in which something keeps moving for ever: no proof is possible, only the timeout
UNPROVABLE = {"missing_main_guard", "nondaemon_child_blocks_exit"}


def _cases():
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if (p / "case.json").is_file())


CASES = _cases()


@pytest.mark.skipif(not CASES, reason=f"the real-world corpus is not at {CORPUS}")
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_corpus_case(case, tmp_path):
    meta = json.loads((case / "case.json").read_text())
    expected, category = meta["expected"], meta["category"]
    # a hang is proven within about a second; the ok cases sleep up to 8 s by design
    timeout = "30" if expected == "ok" else "10"
    run = run_check("--timeout", timeout, str(case / "script.py"), tmp_path=tmp_path)
    verdict = run.report["verdict"]
    slug = SLUG_OF.get(category)
    if expected == "hang":
        wanted = TIMEOUT if category in UNPROVABLE else DEADLOCK
        assert run.rc == wanted, run.stderr[-3000:]
        assert slug in run.slugs, run.stderr[-3000:]
    elif expected == "crash":
        assert verdict == "failed" and run.rc not in (0, DEADLOCK, TIMEOUT), run.stderr[-3000:]
        if slug is not None:
            assert slug in run.slugs
    else:
        assert verdict == "ok" and run.rc == 0, run.stderr[-3000:]
        assert "deadlock" not in run.slugs
