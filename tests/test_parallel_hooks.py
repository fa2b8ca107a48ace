"""joblib's result loop (hooks/parallel.py): a thread that collects a Parallel call's results
says once whether its wait has a deadline, and the call returns what it returns without the
hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from mpdoctor.hooks import protocol
from mpdoctor.run.events import Receiver

pytest.importorskip("joblib")

PROGRAM = textwrap.dedent('''
    import json, threading
    from joblib import Parallel, delayed
    out = {"tid": threading.get_native_id()}
    out["plain"] = Parallel(n_jobs=2, backend="threading")(delayed(abs)(-i) for i in range(20))
    out["again"] = Parallel(n_jobs=2, backend="threading")(delayed(abs)(-i) for i in range(5))
    out["timeout"] = Parallel(n_jobs=2, backend="threading", timeout=30)(
        delayed(abs)(-i) for i in range(5))
    gen = Parallel(n_jobs=2, backend="threading", return_as="generator")(
        delayed(abs)(-i) for i in range(5))
    out["generator"] = list(gen)
    try:
        Parallel(n_jobs=2, backend="threading")(delayed(int)(x) for x in ["1", "x"])
    except ValueError as exc:
        out["raised"] = str(exc)
    print(json.dumps(out))
''')


def _run(tmp_path, env):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_the_result_loop_says_once_per_change_whether_it_has_a_deadline(tmp_path):
    r = Receiver(lambda pid: True)
    try:
        out = _run(tmp_path, {**os.environ, **r.env()})
        deadline = time.monotonic() + 10
        waits = []
        while time.monotonic() < deadline:
            waits = [e for e in r.snapshot() if e.kind == protocol.JOBLIB_WAIT]
            if len(waits) >= 3:
                break
            time.sleep(0.05)
    finally:
        r.close()
    # no deadline (twice: one event), a deadline, no deadline again (the generator, the error)
    assert [(e.data["tid"], e.data["deadline"]) for e in waits] == [
        (out["tid"], False), (out["tid"], True), (out["tid"], False)]
    plain = _run(tmp_path, {k: v for k, v in os.environ.items() if k != "MPDOCTOR_HOOKS"})
    assert {k: v for k, v in out.items() if k != "tid"} == {
        k: v for k, v in plain.items() if k != "tid"}
    assert out["generator"] == list(range(5)) and "invalid literal" in out["raised"]
