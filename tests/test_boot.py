"""The hooks' patches: each applied once per module, only when that module is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mpdoctor.hooks import boot

SRC = Path(__file__).parent.parent / "src"


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, env={"PYTHONPATH": str(SRC)})
    return json.loads(out.stdout)


def test_every_patch_names_a_function_of_a_hooks_module():
    import importlib

    for module, patches in boot.PATCHES.items():
        for patch in patches:
            where, func = patch.split(":")
            assert callable(getattr(importlib.import_module("mpdoctor.hooks." + where), func)), \
                (module, patch)


def test_a_patch_is_applied_once_even_when_the_hooks_start_twice():
    code = """if True:
        import json, sys
        import multiprocessing.pool as mpool, multiprocessing.queues as queues
        from mpdoctor.hooks import boot
        boot._apply("multiprocessing.pool", mpool, boot.PATCHES["multiprocessing.pool"])
        boot._apply("multiprocessing.queues", queues, boot.PATCHES["multiprocessing.queues"])
        first = (mpool.ApplyResult.__init__, mpool.Pool._join_exited_workers, queues.is_exiting)
        boot._apply("multiprocessing.pool", mpool, boot.PATCHES["multiprocessing.pool"])
        boot._apply("multiprocessing.queues", queues, boot.PATCHES["multiprocessing.queues"])
        again = (mpool.ApplyResult.__init__, mpool.Pool._join_exited_workers, queues.is_exiting)
        print(json.dumps({"same": first == again,
                          "wrapped": mpool.ApplyResult.__init__.__code__.co_filename,
                          "marker": sorted(getattr(mpool, boot.MARKER))}))
    """
    got = _run(code)
    assert got["same"] and got["wrapped"].endswith("mpdoctor/hooks/pool.py")
    assert got["marker"] == sorted(boot.PATCHES["multiprocessing.pool"])


def test_the_patch_modules_are_imported_only_with_the_module_they_patch():
    code = """if True:
        import json, sys
        from mpdoctor.hooks import boot
        boot.start_from({"v": 1, "addr": "/nonexistent/socket", "debug": False})
        before = sorted(m for m in sys.modules if m.startswith("mpdoctor.hooks."))
        import multiprocessing.pool
        after = sorted(m for m in sys.modules if m.startswith("mpdoctor.hooks."))
        print(json.dumps({"before": before, "after": after}))
    """
    got = _run(code)
    # (errors.py comes with threading, which the interpreter may have imported already)
    for lazy in ("mpdoctor.hooks.queues", "mpdoctor.hooks.pool", "mpdoctor.hooks.processes"):
        assert lazy not in got["before"], got
    assert "mpdoctor.hooks.pool" in got["after"] and "mpdoctor.hooks.errors" in got["after"]


def test_pool_results_record_their_site_the_first_ones_all_then_sampled(tmp_path):
    """Every one of a process's first ALWAYS pool results knows the user's line and call that
    made it; past them, one per SAMPLE_GAP (the clock is pinned here: deterministic)."""
    program = tmp_path / "made.py"
    program.write_text("""if True:
        import json
        from multiprocessing import pool as mpool
        from mpdoctor.hooks import pool as hp
        hp.patch_pool(mpool)
        hp._monotonic = lambda: 0.0
        with mpool.ThreadPool(1) as tp:
            first = [tp.apply_async(abs, (-i,)) for i in range(hp.ALWAYS + 40)]  # FIRST
            hp._monotonic = lambda: 1.0
            later = tp.map_async(abs, [-1, -2])  # LATER
            [r.get() for r in first], later.get()
        print(json.dumps({"always": hp.ALWAYS, "sites": [r._mpdoctor_site for r in first],
                          "ops": [getattr(r, "_mpdoctor_op", None) for r in first],
                          "later": [later._mpdoctor_site, later._mpdoctor_op]}))
    """)
    lines = program.read_text().splitlines()
    at = {tag: f"{program}:{next(i for i, t in enumerate(lines, 1) if tag in t)}"
          for tag in ("# FIRST", "# LATER")}
    out = subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                         timeout=60, check=True, env={"PYTHONPATH": str(SRC)})
    got = json.loads(out.stdout)
    n = got["always"]
    # the first n, and the first past them (the clock allowed it), then none until it moves
    assert got["sites"][:n + 1] == [at["# FIRST"]] * (n + 1), got["sites"][:3]
    assert got["sites"][n + 1:] == [None] * 39
    assert got["ops"][:n + 1] == ["apply_async"] * (n + 1)
    assert got["later"] == [at["# LATER"], "map_async"]


def test_the_protocol_says_how_pool_sites_are_sampled():
    from mpdoctor.hooks import pool as hp
    from mpdoctor.hooks import protocol

    [pending] = [f for f in protocol.KINDS[protocol.POOL_WORKER_EXIT].fields
                 if f.name == "pending"]
    [site] = [f for f in pending.fields if f.name == "site"]
    assert f"first {hp.ALWAYS} pool results" in site.doc
    assert f"one every {hp.SAMPLE_GAP * 1000:g} ms" in site.doc
