"""The benchmark still runs (every measurement once, at its smallest size).  Timings are not
checked here: they are measured by bench/run.py and reported in docs/performance.md."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.e2e


def test_bench_smoke(tmp_path):
    out = tmp_path / "performance.md"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out",
                        str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    text = out.read_text()
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert heading in text
