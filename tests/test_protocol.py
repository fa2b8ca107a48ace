"""The event protocol: what it lets through is exactly what it declares, whatever it is given;
both ends use it; the docs say what it says."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventgen
from zoo import ZOO
from conftest import FIXTURES, ROOT
from mpdoctor.hooks import channel, protocol
from mpdoctor.hooks.protocol import ProtocolError

SRC = ROOT / "src" / "mpdoctor"


def datagram(obj) -> bytes:
    return json.dumps(obj).encode()


def test_a_datagram_of_the_hooks_becomes_its_kind_and_fields():
    payload = channel.encode({"ev": protocol.PUT_SITE, "pid": 7, "t": 12.5, "site": "a.py:3",
                              "pipe": 99}).encode()
    raw = protocol.decode(payload)
    assert protocol.envelope(raw) == (12.5, 0)
    assert protocol.validate(raw) == (protocol.PUT_SITE, {"site": "a.py:3", "pipe": 99})


def test_absent_optional_fields_read_as_none_and_numbers_as_floats():
    kind, data = protocol.validate({"ev": "hello", "t": 1, "remaining": 0, "interval": 1,
                                    "mono": 5})
    assert kind == "hello"
    assert data == {"remaining": 0.0, "interval": 1.0, "mono": 5.0, "fork": None,
                    "start": None, "inherited": None, "parent": None}
    assert all(type(data[k]) is float for k in ("remaining", "interval", "mono"))


@pytest.mark.parametrize("name", sorted(ZOO))
def test_the_zoo_is_refused_with_a_protocol_error(name):
    with pytest.raises(ProtocolError):
        protocol.validate(protocol.decode(ZOO[name]))


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_random_bytes_never_raise_anything_but_a_protocol_error(data):
    try:
        protocol.validate(protocol.decode(data))
    except ProtocolError:
        pass


@given(eventgen.json_values)
@settings(max_examples=500)
def test_random_json_never_raises_anything_but_a_protocol_error(value):
    try:
        protocol.validate(value)
    except ProtocolError:
        pass
    try:
        protocol.validate(protocol.decode(json.dumps(value).encode()))
    except ProtocolError:
        pass


@given(eventgen.near_valid())
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_near_valid_datagrams_are_either_valid_or_refused(obj):
    try:
        kind, data = protocol.validate(obj)
    except ProtocolError:
        return
    assert data == protocol.check(kind, data)  # what passes is what the protocol declares


@given(eventgen.datagram_fields())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.data_too_large])
def test_every_valid_event_passes_through_the_hooks_encoder_unchanged(obj):
    payload = channel.encode(obj).encode("utf-8", "replace")
    if len(payload) > protocol.MAX_DATAGRAM:
        return  # (the hooks drop it and count it as lost: see the test below)
    raw = protocol.decode(payload)
    kind, data = protocol.validate(raw)
    assert kind == obj["ev"]
    assert data == protocol.check(kind, {k: v for k, v in obj.items()
                                         if k not in ("ev", "t", "pid", "dropped_before")})
    t, dropped = protocol.envelope(raw)
    assert math.isclose(t, obj["t"]) and dropped == obj.get("dropped_before", 0)


def test_the_hooks_encoder_cuts_strings_and_lists_to_the_limits():
    obj = {"ev": protocol.POOL_WORKER_EXIT, "t": 1.0, "worker": 3, "exitcode": -9,
           "pending": [{"job": i, "site": "s" * 1000, "left": 1, "chunksize": 1,
                        "length": None} for i in range(50)]}
    kind, data = protocol.validate(protocol.decode(channel.encode(obj).encode()))
    assert [p["job"] for p in data["pending"]] == list(range(protocol.MAX_ITEMS))
    obj = {"ev": protocol.MAIN_GUARD, "t": 1.0, "site": "s" * 10_000, "main": "m"}
    kind, data = protocol.validate(protocol.decode(channel.encode(obj).encode()))
    assert data["site"] == "s" * protocol.MAX_TEXT


def test_the_hooks_drop_and_count_an_event_too_large_to_send(monkeypatch):
    sent = []

    class Socket:
        def send(self, payload):
            sent.append(payload)

    monkeypatch.setitem(channel._state, "addr", "/nowhere")
    monkeypatch.setitem(channel._state, "dead", False)
    monkeypatch.setitem(channel._state, "dropped", 0)
    monkeypatch.setattr(channel, "_socket", Socket)
    # every text field at its limit, in characters of four bytes each: over 64 KiB
    channel.send(protocol.PICKLE_ERROR, **{f: "\U0001f600" * protocol.MAX_TEXT for f in (
        "op", "site", "path", "culprit", "why", "error", "thread")})
    assert sent == [] and channel._state["dropped"] == 1
    channel.send(protocol.PUT_SITE, site="a.py:1", pipe=1)
    [payload] = sent
    raw = protocol.decode(payload)
    assert protocol.envelope(raw)[1] == 1  # the count rides along with the next event
    assert channel._state["dropped"] == 0


def test_the_events_of_every_recorded_snapshot_follow_the_protocol():
    count = 0
    for path in sorted(FIXTURES.glob("*.json")):
        for e in json.loads(path.read_text()).get("events") or ():
            protocol.check(e["kind"], e["data"])
            count += 1
    assert count > 50


def test_a_saved_snapshot_keeps_only_valid_events(tmp_path):
    from mpdoctor.observe.snapshot import load_file

    data = json.loads((FIXTURES / "worker_exits_fork.json").read_text())
    good = len(data["events"])
    data["events"] += [{"kind": "pool-worker-exit", "pid": 1, "at": 1.0,
                        "data": {"worker": "x", "exitcode": 1, "pending": []}},
                       {"kind": "finding", "pid": 1, "at": 1.0, "data": {}},
                       {"kind": "main-guard", "pid": "1", "at": 1.0,
                        "data": {"site": None, "main": None}}]
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(data))
    snap = load_file(str(path))
    assert len(snap.events) == good
    assert any("3 events" in n and "event protocol" in n for n in snap.notes)


# -- both ends use it ----------------------------------------------------------------------------

def _python_files():
    return [p for p in SRC.rglob("*.py") if p.name != "protocol.py"]


def test_no_kind_is_spelled_out_anywhere_but_in_the_protocol():
    literal = re.compile(r"""["'](%s)["']""" % "|".join(map(re.escape, protocol.KINDS)))
    found = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
             for p in _python_files()
             for i, line in enumerate(p.read_text().splitlines(), 1) if literal.search(line)]
    assert found == []


def test_every_kind_has_a_sender_in_the_hooks_and_every_send_names_a_kind():
    hooks = "\n".join(p.read_text() for p in (SRC / "hooks").glob("*.py"))
    sent = set(re.findall(r"channel\.send(?:_closing|_note)?\(protocol\.([A-Z_]+)", hooks))
    assert not re.search(r"channel\.send(?:_closing|_note)?\((?!protocol\.)", hooks)
    constants = {name for name in dir(protocol)
                 if name.isupper() and isinstance(getattr(protocol, name), str)
                 and getattr(protocol, name) in protocol.KINDS}
    assert sent == constants - {name for name in constants
                                if getattr(protocol, name) in protocol.RETIRED}
    assert {getattr(protocol, c) for c in constants} == set(protocol.KINDS)


def test_every_sender_passes_exactly_the_declared_fields():
    """The keyword arguments of each channel.send() call are the kind's fields."""
    import ast

    for path in (SRC / "hooks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("send", "send_closing", "send_note")
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "channel"):
                kind = getattr(protocol, node.args[0].attr)  # type: ignore[attr-defined]
                declared = {f.name for f in protocol.KINDS[kind].fields}
                assert {k.arg for k in node.keywords} == declared, (path.name, kind)


# -- the docs say what the protocol says ---------------------------------------------------------

def test_the_contributors_page_lists_every_kind_and_field_with_its_limits():
    page = (ROOT / "docs" / "events.md").read_text()
    assert "events.md" in (ROOT / "mkdocs.yml").read_text()
    for kind in protocol.KINDS.values():
        assert f"### `{kind.name}`" in page, kind.name
        for f in kind.fields:
            row = f"| `{f.name}` | {protocol.describe(f)} | {f.doc} |"
            if f.type == protocol.RECORDS:
                assert row in page, row
                for sub in f.fields:
                    subrow = f"| `{f.name}[].{sub.name}` | {protocol.describe(sub)} | {sub.doc} |"
                    assert subrow in page, subrow
            else:
                assert row in page, row
    for f in protocol.ENVELOPE:
        row = f"| `{f.name}` | {protocol.describe(f)} | {f.doc} |"
        assert row in page, row


def test_the_protocol_module_is_cheap_for_the_hooks_to_import():
    """Nothing heavy at import time (the hooks load it at every interpreter start)."""
    import subprocess
    import sys

    code = ("import sys; before = set(sys.modules); import mpdoctor.hooks.protocol; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(SRC.parent)}).stdout.split()
    assert set(out) <= {"mpdoctor", "mpdoctor.hooks", "mpdoctor.hooks.protocol", "__future__"}


def test_no_field_allows_more_than_the_hooks_encoder_sends():
    for kind in protocol.KINDS.values():
        for f in kind.fields:
            assert f.type != protocol.TEXT or f.size <= protocol.MAX_TEXT
            assert f.type != protocol.RECORDS or f.size <= protocol.MAX_ITEMS


@pytest.mark.parametrize("text", [
    '{"ev":"hello","a":[1,2.5,"x"],"b":{"c":null,"d":true}}', ' [1] \n', '', '   ', '[1] x',
    'NaN', '[Infinity]', '[-Infinity]', '"\\ud800"', '{"a":1,"a":2}', '1e400', '-0', '"a\x01"',
    '1' * 30, '[' * 3000 + ']' * 3000, '{"a":', '\ufeff[1]', '[1,]', '{"a" 1}',
])
def test_datagrams_are_read_as_json_reads_them(text):
    """The C scanner the watchdog reads datagrams with accepts exactly what json.loads (with
    the protocol's limits) accepts, and gives the same value."""
    def no_constant(name):
        raise ValueError(name)

    def int_literal(digits):
        if len(digits) > 24:
            raise ValueError(digits)
        return int(digits)

    try:
        expected = json.loads(text, parse_constant=no_constant, parse_int=int_literal)
    except (ValueError, RecursionError):
        with pytest.raises(protocol.ProtocolError):
            protocol.decode(text.encode("utf-8", "surrogatepass"))
        return
    assert protocol.decode(text.encode()) == expected


def test_reading_a_datagram_loads_neither_json_nor_re():
    code = ("import sys; from mpdoctor.hooks import protocol; "
            "protocol.decode(b'{\"ev\": \"hello\", \"t\": [1, 2.5]}'); "
            "print('json' in sys.modules, 're' in sys.modules)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         timeout=60, env={"PYTHONPATH": str(ROOT / "src")})
    assert out.stdout.split() == ["False", "False"], out.stderr
