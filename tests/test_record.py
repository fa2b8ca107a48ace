"""Record (typing.NamedTuple's class syntax without typing) and prctl (through _ctypes): the
two stand-ins the start-up path uses for costlier modules."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from typing import NamedTuple, Optional

import pytest

from mpdoctor.record import Record
from mpdoctor.run import prctl


class Point(Record):
    """A point."""

    x: int
    y: int
    label: Optional[str] = None
    weight: float = 1.0

    def norm(self) -> int:
        return abs(self.x) + abs(self.y)


class TypedPoint(NamedTuple):
    x: int
    y: int
    label: Optional[str] = None
    weight: float = 1.0


def test_a_record_behaves_as_the_same_named_tuple():
    p, q = Point(1, -2), TypedPoint(1, -2)
    assert p == q == (1, -2, None, 1.0)
    assert Point._fields == TypedPoint._fields == ("x", "y", "label", "weight")
    assert Point._field_defaults == TypedPoint._field_defaults
    assert p._replace(label="a").label == "a"
    assert p.norm() == 3 and Point.__doc__ == "A point."
    assert isinstance(p, Point) and isinstance(p, tuple)
    assert Point.__module__ == __name__ and Point.__qualname__ == "Point"
    x, y, *_ = p
    assert (x, y) == (1, -2)
    with pytest.raises(AttributeError):
        p.x = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point(1)  # type: ignore[call-arg]


def test_a_record_pickles():
    p = Point(3, 4, "c")
    assert pickle.loads(pickle.dumps(p)) == p


def test_a_field_without_default_after_one_with_is_refused():
    with pytest.raises(TypeError):
        class Bad(Record):
            a: int = 0
            b: int


def test_prctl_reads_and_sets_process_attributes():
    assert prctl.call(prctl.PR_GET_DUMPABLE) == 1
    # in a child of its own: whether the call really set the attribute, read back with ctypes
    code = ("import ctypes, sys; from mpdoctor.run import prctl; "
            "ok = prctl.set_option(prctl.PR_SET_CHILD_SUBREAPER, 1); v = ctypes.c_int(); "
            "ctypes.CDLL(None).prctl(37, ctypes.byref(v), 0, 0, 0); print(ok, v.value)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ})
    assert out.stdout.split() == ["True", "1"], out.stderr
    assert prctl.set_option(-1, 0) is False  # EINVAL: no such option
