"""Datagrams that are not events: those that crashed or hung the watchdog before the event
protocol, and their neighbours.  Plain data (standard library only): the test programs that
send them from inside a watched tree import it too."""

import json

MAX_DATAGRAM = 65536


def _d(obj) -> bytes:
    return json.dumps(obj).encode()


# the datagrams that crashed or hung the watchdog before the protocol, and their neighbours
ZOO = {
    "infinity": b'{"ev": "hello", "pid": Infinity, "t": 1}',
    "nan": b'{"ev": "hello", "t": NaN, "remaining": 0, "interval": 0, "mono": 0}',
    "deep nesting": b"[" * 60000,
    "dropped_before not a number": _d({"ev": "put-site", "t": 1, "site": "a:1",
                                       "pipe": None, "dropped_before": "x"}),
    "list for a string": _d({"ev": "main-guard", "t": 1, "site": ["a"], "main": None}),
    "dict for a string": _d({"ev": "thread-exception", "t": 1, "thread": {},
                             "error": "E"}),
    "string for a list": _d({"ev": "pool-worker-exit", "t": 1, "worker": 5,
                             "exitcode": 1, "pending": "x"}),
    "string for a record": _d({"ev": "pool-worker-exit", "t": 1, "worker": 5,
                               "exitcode": 1, "pending": ["x"]}),
    "too many records": _d({"ev": "pool-worker-exit", "t": 1, "worker": 5, "exitcode": 1,
                            "pending": [{"job": 1, "site": None, "left": 1, "chunksize": 1,
                                         "length": 1}] * 21}),
    "bool for an int": _d({"ev": "put-site", "t": 1, "site": "a:1", "pipe": True}),
    "float for an int": _d({"ev": "put-site", "t": 1, "site": "a:1", "pipe": 1.0}),
    "negative pid": _d({"ev": "pool-worker-exit", "t": 1, "worker": -1, "exitcode": 1,
                        "pending": []}),
    "huge float": b'{"ev": "hello", "t": 1e400, "remaining": 0, "interval": 0, "mono": 0}',
    "huge integer": b'{"ev": "put-site", "t": 1, "site": "a:1", "pipe": 1' + b"0" * 5000
                    + b"}",
    "text too long": _d({"ev": "main-guard", "t": 1, "site": "x" * 4097,
                         "main": None}),
    "lone surrogate": b'{"ev": "main-guard", "t": 1, "site": "\\ud800", "main": null}',
    "not UTF-8": b'{"ev": "main-guard", "t": 1, "site": "\xff", "main": null}',
    "unknown kind": _d({"ev": "finding", "t": 1}),
    "kind not a string": _d({"ev": ["hello"], "t": 1}),
    "no kind": _d({"t": 1}),
    "no time": _d({"ev": "main-guard", "site": None, "main": None}),
    "unknown field": _d({"ev": "main-guard", "t": 1, "site": None, "main": None,
                         "slug": "x"}),
    "missing field": _d({"ev": "thread-exception", "t": 1, "thread": "T"}),
    "null where not allowed": _d({"ev": "thread-exception", "t": 1, "thread": "T",
                                  "error": None}),
    "not a choice": _d({"ev": "timer", "t": 1, "which": "wall", "remaining": 0,
                        "interval": 0, "mono": 0}),
    "not an object": b"[1, 2, 3]",
    "a bare string": b'"hello"',
    "null": b"null",
    "empty": b"",
    "garbage": b"\x00\x01\x02 not json",
    "trailing data": b'{"ev": "main-guard", "t": 1, "site": null, "main": null} {}',
    "oversized": b" " * (MAX_DATAGRAM + 1),
}
