"""Hypothesis strategies for events, derived from the event protocol itself: the valid events
of every kind, with the nastiest values the protocol allows (its longest strings, its range
boundaries, markup and control characters, nulls where null is allowed)."""

from __future__ import annotations

from typing import Any, Dict, Sequence

from hypothesis import strategies as st

from mpdoctor.hooks import protocol
from mpdoctor.hooks.protocol import BOOL, INT, NUMBER, RECORDS, TEXT, Field

#: strings that have broken renderers elsewhere: rich markup, terminal escapes, GitHub workflow
#: commands, HTML, paths with colons, NUL, a Windows path, a right-to-left override
NASTY = ["", "[/bold]", "[red]x[/red]", "\x1b[31mred\x1b[0m\x07", "::error::forged%0A",
         "<script>alert(1)</script>&amp;", "a:b:c:0", "x.py:-1", "x.py:99999999999999999999",
         "\x00", "line\nbreak\r\n", "C:\\udir\\x.py:3", "\u202egnp.exe", "\U0001f600" * 3,
         "%s %d {0} {}", "'\"\\"]


def text(field: Field) -> st.SearchStrategy[str]:
    if field.choices:
        return st.sampled_from(field.choices)
    return st.one_of(
        st.sampled_from(NASTY),
        st.text(max_size=min(field.size, 30)),
        st.builds(lambda c, k: (c * field.size)[:field.size - k], st.sampled_from("a[\n\x00é😀"),
                  st.integers(0, 2)),
    )


def value(field: Field) -> st.SearchStrategy[Any]:
    if field.type == TEXT:
        out: st.SearchStrategy[Any] = text(field)
    elif field.type == INT:
        out = st.one_of(st.sampled_from([field.low, field.high, 0 if field.low <= 0 else
                                         field.low, 1 if field.high >= 1 else field.high]),
                        st.integers(field.low, field.high))
    elif field.type == NUMBER:
        out = st.one_of(st.sampled_from([field.low, field.high]),
                        st.floats(field.low, field.high, allow_nan=False),
                        st.integers(int(field.low), int(field.high)))
    elif field.type == BOOL:
        out = st.booleans()
    elif field.type == RECORDS:
        out = st.lists(record(field.fields), max_size=field.size)
    else:  # pragma: no cover - a type this module does not know yet
        raise AssertionError(field.type)
    return st.one_of(st.none(), out) if field.null else out


@st.composite
def record(draw: Any, fields: Sequence[Field]) -> Dict[str, Any]:
    out = {}
    for f in fields:
        if not f.required and draw(st.booleans()):
            continue  # absent optional field
        out[f.name] = draw(value(f))
    return out


def fields(kind: str) -> st.SearchStrategy[Dict[str, Any]]:
    """The fields of a valid event of ``kind``, as a sender may send them."""
    return record(protocol.KINDS[kind].fields)


kinds = st.sampled_from(sorted(protocol.KINDS))


@st.composite
def datagram_fields(draw: Any) -> Dict[str, Any]:
    """A whole valid datagram's object: envelope and fields."""
    kind = draw(kinds)
    out = draw(fields(kind))
    out["ev"] = kind
    out["t"] = draw(st.floats(0, protocol.EPOCH_MAX, allow_nan=False))
    if draw(st.booleans()):
        out["pid"] = draw(st.integers(1, protocol.PID_MAX))
    if draw(st.booleans()):
        out["dropped_before"] = draw(st.integers(0, protocol.COUNT_MAX))
    return out


#: any JSON value, nested a little
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20)


@st.composite
def near_valid(draw: Any) -> Dict[str, Any]:
    """A valid datagram's object with one field replaced, removed, or added: the forgeries
    that come closest to passing."""
    obj = draw(datagram_fields())
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "replace" or not obj:
        obj[draw(st.sampled_from(sorted(obj)))] = draw(json_values)
    elif action == "remove":
        del obj[draw(st.sampled_from(sorted(obj)))]
    else:
        obj[draw(st.text(max_size=10))] = draw(json_values)
    return obj
