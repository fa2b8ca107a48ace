"""The object-path finder, in-process: which part of a payload cannot be pickled."""

from __future__ import annotations

import functools
import socket
import threading
from multiprocessing import reduction

import pytest

from mpdoctor.hooks import objpath

P = reduction.ForkingPickler


def find(obj, root="obj"):
    return objpath.find(obj, P, None, root=root)


class Client:
    def __init__(self, pool):
        self.name = "client"
        self.pool = pool

    def work(self, x):
        return x


class Slotted:
    __slots__ = ("a", "lock")

    def __init__(self):
        self.a = 1
        self.lock = threading.RLock()


class Custom:
    """Pickles through __getstate__, which keeps a lock."""

    def __init__(self):
        self.lock = threading.Lock()

    def __getstate__(self):
        return {"kept": self.lock}


def test_picklable_objects_have_no_culprit():
    assert find([1, "a", {"b": (2, 3.0)}]) is None
    assert find(socket.socket()) is None  # multiprocessing knows how to send a socket


def test_bound_method_of_an_object_holding_a_pool():
    import multiprocessing
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        path, ctype, why, culprit = find(Client(pool).work, "task")
        assert path == ("task (builtins.method) .__self__ (test_objpath.Client) "
                        ".pool (multiprocessing.pool.Pool)")
        assert ctype == "multiprocessing.pool.Pool" and culprit is pool
        assert "Pool" in why


def test_dicts_lists_and_slots():
    path, ctype, _, _ = find({"k": [1, Slotted()]}, "item")
    assert path == ("item (builtins.dict) ['k'] (builtins.list) [1] (test_objpath.Slotted) "
                    ".lock (_thread.RLock)")
    assert ctype == "_thread.RLock"


def test_partial_and_getstate():
    path, _, _, _ = find(functools.partial(print, Custom()))
    assert path == ("obj (functools.partial) .args[0] (test_objpath.Custom) "
                    ".kept (_thread.lock)")


def test_lambda_and_local_function_are_the_culprits_themselves():
    def local():
        pass
    for fn in (lambda x: x, local):
        path, ctype, why, culprit = find([fn])
        assert path == "obj (builtins.list) [0] (builtins.function)"
        assert culprit is fn and "no name" in why


def test_generator():
    path, ctype, why, _ = find((x for x in "ab"))
    assert ctype == "builtins.generator" and "generator" in why


def test_cycles_are_cut():
    a = []
    a.append(a)
    a.append(threading.Lock())
    path, ctype, _, _ = find(a)
    assert path == "obj (builtins.list) [1] (_thread.lock)"


def test_shortest_path_wins():
    deep = {"x": {"y": {"z": threading.Lock()}}}
    path, _, _, _ = find([deep, threading.Lock()])
    assert path == "obj (builtins.list) [1] (_thread.lock)"


def test_a_graph_too_deep_to_pickle_is_not_blamed():
    node = threading.Lock()
    for _ in range(50_000):  # deeper than the pickler can go: a RecursionError, not a culprit
        node = [node]
    assert objpath.find(node, P, None) is None


def test_wide_graph_stops_at_the_node_budget():
    wide = [[i] for i in range(20_000)] + [threading.Lock()]
    found = objpath.find(wide, P, None, budget_nodes=100)
    assert found is not None  # gives up early, reporting the deepest failing object so far
    assert found[1] == "builtins.list"


@pytest.mark.parametrize("obj,needle", [
    (threading.Lock(), "thread lock"),
    (open(__file__), "open file"),
])
def test_why_says_why(obj, needle):
    try:
        assert needle in find(obj)[2]
    finally:
        if hasattr(obj, "close"):
            obj.close()
