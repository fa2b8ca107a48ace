"""The events the hooks send to the watchdog: every kind, its fields, and their limits.

Both ends read this module.  The hooks name each kind by its constant here, and their encoder
(``channel.encode``) keeps every string within ``MAX_TEXT`` characters, every list within
``MAX_ITEMS`` items and every datagram within ``MAX_DATAGRAM`` bytes.  The watchdog turns each
datagram into an event only through :func:`decode` and :func:`validate`: a field of the wrong
type, out of its range, too long, missing or unknown makes the whole datagram invalid, so the
rules that read events (``mpdoctor.diagnose``, ``mpdoctor.observe.timers``) see nothing but the
shapes declared below.  The contributors' guide to this protocol is ``docs/events.md``.

A datagram is one JSON object: the envelope (``ev``, the kind; ``pid``, what the sender thinks
its pid is, never used: the watchdog takes the pid the kernel vouches for; ``t``, the sender's
``time.time()``; ``dropped_before``, how many events this process could not send since its last
one, and ``timers_dropped_before``, how many of those were about its timers) and the kind's own
fields.

Standard library only, Python >= 3.8, and cheap to import (the hooks import it at every
interpreter start): no ``json``, ``typing`` or ``dataclasses`` at run time, and the tables of
fields are built only when first used (by the watchdog).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing costs milliseconds to import: annotations that need it are strings)
    from typing import Any, Dict, List, Optional, Tuple

#: the largest datagram the watchdog reads whole (a larger one is "oversized")
MAX_DATAGRAM = 65536
#: the longest free-text value, in characters (a file:line, an error message, a thread name)
MAX_TEXT = 4096
#: the most items in a list value
MAX_ITEMS = 20

#: ranges of the numbers the hooks send
PID_MAX = 1 << 22  # the kernel's PID_MAX_LIMIT
INODE_MAX = (1 << 64) - 1
COUNT_MAX = (1 << 63) - 1
#: the longest list of inherited pipes and sockets a hello carries (64 names of up to 30 chars)
INHERITED_SIZE = 2048
SECONDS_MAX = 1e12  # timer lengths and monotonic clocks: 30,000 years
EPOCH_MAX = 1e11  # wall-clock time.time(): the year 5138

# -- the kinds ----------------------------------------------------------------------------------

HELLO = "hello"
TIMER = "timer"
PICKLE_ERROR = "pickle-error"
PUT_SITE = "put-site"
POOL_CALL = "pool-call"  # retired: see RETIRED
POOL_WORKER_EXIT = "pool-worker-exit"
MAIN_GUARD = "main-guard"
THREAD_EXCEPTION = "thread-exception"
UNPICKLE_ERROR = "unpickle-error"
STARTED_CHILD = "started-child"
UNCAUGHT = "uncaught"
CHILD_EXIT = "child-exit"
JOBLIB_WAIT = "joblib-wait"

#: kinds that hooks of earlier versions sent, sent no more: still valid, so that recorded
#: snapshots keep loading (pool-call: one event per apply_async cost every Pool call a
#: datagram, and no rule read it; a dead worker's pending calls name their sites themselves)
RETIRED = (POOL_CALL,)

# field types
TEXT = "text"
INT = "int"
NUMBER = "number"  # int or float in the datagram, always a float after validation
BOOL = "bool"
RECORDS = "records"  # a list of objects, each with fields of its own


class ProtocolError(ValueError):
    """A datagram that is not an event of this protocol."""


class Field:
    """One field: its type and limits.  ``required``: it must be present; an optional field
    may be absent or null, and then reads as ``None``.  ``null``: a required field may be
    ``null``."""

    __slots__ = ("name", "type", "doc", "required", "null", "low", "high", "size", "choices",
                 "fields", "by_name")
    low: "Any"
    high: "Any"

    def __init__(self, name: str, type: str, doc: str, required: bool = True,
                 null: bool = False, low: "Any" = None, high: "Any" = None,
                 size: int = 0, choices: "Optional[Tuple[str, ...]]" = None,
                 fields: "Tuple[Field, ...]" = ()) -> None:
        self.name = name
        self.type = type
        self.doc = doc
        self.required = required
        self.null = null
        self.low = low
        self.high = high
        self.size = size
        self.choices = choices
        self.fields = fields
        self.by_name = {f.name: f for f in fields}

    def __repr__(self) -> str:
        return "Field(%r, %r)" % (self.name, self.type)


class Kind:
    """One kind of event: its fields, who sends it and when."""

    __slots__ = ("name", "fields", "sender", "when", "by_name")

    def __init__(self, name: str, fields: "Tuple[Field, ...]", sender: str, when: str) -> None:
        self.name = name
        self.fields = fields
        self.sender = sender
        self.when = when
        self.by_name = {f.name: f for f in fields}

    def __repr__(self) -> str:
        return "Kind(%r)" % (self.name,)


def _text(name: str, doc: str, null: bool = True, size: int = MAX_TEXT, required: bool = True,
          choices: "Optional[Tuple[str, ...]]" = None) -> "Field":
    return Field(name, TEXT, doc, required=required, null=null, size=size, choices=choices)


def _int(name: str, doc: str, low: int, high: int, null: bool = False,
         required: bool = True) -> "Field":
    return Field(name, INT, doc, required=required, null=null, low=low, high=high)


def _number(name: str, doc: str, low: float = 0.0, high: float = SECONDS_MAX) -> "Field":
    return Field(name, NUMBER, doc, low=low, high=high)


def _bool(name: str, doc: str, required: bool = True) -> "Field":
    return Field(name, BOOL, doc, required=required)


def _site(what: str) -> str:
    return "the user's line (file:line) " + what


#: the envelope's fields, and every kind by name (built at the first use: the hooks, which
#: only send, never pay for the tables)
ENVELOPE: "Tuple[Field, ...]"
KINDS: "Dict[str, Kind]"


def _declare() -> None:
    global ENVELOPE, KINDS, _ENVELOPE
    ENVELOPE = (
        _text("ev", "the kind", null=False, size=32),
        _int("pid", "the sender's own idea of its pid; ignored (the kernel's is used)", 1, PID_MAX,
             required=False),
        _number("t", "the sender's time.time() when it sent the event", 0.0, EPOCH_MAX),
        _int("dropped_before", "events this process could not send since the last one that got "
             "through", 0, COUNT_MAX, required=False),
        _int("timers_dropped_before", "how many of those were about its timers (hello, "
             "timer): only they can hide a timer from the proof; absent: all may have been",
             0, COUNT_MAX, required=False),
    )

    KINDS = {k.name: k for k in (
        Kind(HELLO, (
            _number("remaining", "seconds until the ITIMER_REAL timer fires (0: not armed)"),
            _number("interval", "its interval in seconds (0: fires once)"),
            _number("mono", "the sender's time.monotonic() when it read the timer"),
            _bool("fork", "sent in a child right after fork (the kernel cleared the timers)",
                  required=False),
            _int("start", "the process's start time in clock ticks (tells a reused pid apart)",
                 0, COUNT_MAX, null=True, required=False),
            _text("inherited", "after fork: the pipes and sockets the child got from its "
                  "parent, as `pipe:[N] socket:[N] ...` (the first 64)",
                  size=INHERITED_SIZE, required=False),
            _int("parent", "after fork: the pid of the process that forked it", 1, PID_MAX,
                 required=False),
        ), "hooks/timers.py: hello()",
            "once when the hooks start in a process, and in a forked child right after fork"),
        Kind(TIMER, (
            _text("which", "the timer", null=False, size=8, choices=("real", "virtual", "prof")),
            _number("remaining", "seconds until it fires after the call (0: disarmed)"),
            _number("interval", "its interval in seconds"),
            _number("mono", "the sender's time.monotonic() right after the call"),
            _text("site", _site("of the call"), required=False),
        ), "hooks/timers.py: the signal.alarm and signal.setitimer wrappers",
            "after every call that arms or disarms a timer; only the latest per process and "
            "timer is kept"),
        Kind(PICKLE_ERROR, (
            _text("op", "the operation that pickled (Queue.put, Pool.map task, Process start...)",
                  null=False, size=64),
            _bool("dropped", "a queue's feeder thread dropped the item (put() did not raise)"),
            _text("site", _site("the object was sent from")),
            _text("path", "the path to the object that cannot be pickled"),
            _text("culprit", "its type, module.qualname"),
            _text("why", "why it cannot be pickled"),
            _text("error", "the exception, 'Type: message'", null=False),
            _text("thread", "the thread that pickled", required=False),
            _int("pipe", "inode of the queue's pipe (for dropped items)", 0, INODE_MAX, null=True,
                 required=False),
        ), "hooks/errors.py: _send_pickle_error()",
            "when multiprocessing's pickler fails: seen in the feeder thread, traceback.print_exc, "
            "the excepthooks, or a Pool worker's MaybeEncodingError"),
        Kind(PUT_SITE, (
            _text("site", _site("of the put()"), null=False),
            _int("pipe", "inode of the queue's pipe", 0, INODE_MAX, null=True),
        ), "hooks/queues.py: _SiteDeque.append",
            "the first time a queue gets an item put from a given line (first 64 puts only)"),
        Kind(POOL_CALL, (
            _text("op", "the Pool method called (map, apply_async, imap...)", size=64),
            _int("job", "the job number the pool gave the call", 0, COUNT_MAX, null=True),
            _text("site", _site("of the call")),
        ), "no longer sent (hooks of earlier versions: the ApplyResult and IMapIterator "
           "constructors)", "for every map/apply/imap call on a Pool, by earlier versions"),
        Kind(POOL_WORKER_EXIT, (
            _int("worker", "pid of the worker that exited", 1, PID_MAX),
            _int("exitcode", "its exit code (-N: killed by signal N)", -255, 255),
            Field("pending", RECORDS, "the results the pool still waited for then", size=MAX_ITEMS,
                  fields=(
                      _int("job", "the job number", 0, COUNT_MAX, null=True),
                      _text("site", _site("of the call; null when not recorded (past a "
                                          "process's first 256 pool results, one every 5 ms "
                                          "records its site)")),
                      _int("left", "tasks (chunks) still missing", -COUNT_MAX, COUNT_MAX,
                           null=True),
                      _int("chunksize", "tasks per chunk", 0, COUNT_MAX, null=True),
                      _int("length", "items in the call", 0, COUNT_MAX, null=True),
                  )),
        ), "hooks/pool.py: the Pool._join_exited_workers wrapper",
            "when the pool's worker handler finds a worker that exited with a non-zero code"),
        Kind(JOBLIB_WAIT, (
            _int("tid", "the native id of the thread that collects the results", 1, PID_MAX),
            _bool("deadline", "Parallel(timeout=...) was given: the wait ends by itself"),
        ), "hooks/parallel.py: the Parallel._retrieve wrapper",
            "when a thread starts collecting a joblib Parallel call's results (once per "
            "thread, and again if the deadline changes)"),
        Kind(MAIN_GUARD, (
            _text("site", _site("of the process-starting code that ran at import")),
            _text("main", "the main module's file"),
        ), "hooks/errors.py: _examine_main_guard()",
            "when a spawned child dies re-running the main module's process-starting code"),
        Kind(THREAD_EXCEPTION, (
            _text("thread", "the thread's name"),
            _text("error", "the exception, 'Type: message'", null=False),
        ), "hooks/errors.py: the threading excepthook wrapper",
            "when a thread dies of an exception (a Pool's result handler, say)"),
        Kind(UNPICKLE_ERROR, (
            _text("op", "what could not be unpickled (Pool task, Process start, ...)",
                  null=False, size=64),
            _text("error", "the exception, 'Type: message'", null=False),
            _text("main", "the main module's file, as the child knows it"),
        ), "hooks/errors.py: _examine_unpickling()",
            "when a child dies unpickling what it was sent (a function defined under the "
            "main guard, say)"),
        Kind(STARTED_CHILD, (
            _int("child", "pid of the child this process has just started", 1, PID_MAX),
            _text("how", "how it was started", null=False, size=8, choices=("fork", "spawn")),
        ), "hooks/processes.py: after_fork_in_parent() and the spawnv_passfds wrapper",
            "in the parent, right after it forks or spawns a child: the watchdog then hears "
            "that child even when it has exited (and was reaped) before its events were read"),
        Kind(UNCAUGHT, (
            _text("where", "what ended with it: the interpreter (an exception that reached "
                  "sys.excepthook) or a multiprocessing Process's target", null=False,
                  size=8, choices=("top", "target")),
            _text("error", "the exception, 'Type: message'", null=False),
            _text("types", "the exception's classes, most derived first, space-separated",
                  null=False, size=1024),
            _text("site", _site("where it was raised")),
            _text("process", "the multiprocessing Process's name", size=256),
            _text("remote", "the traceback of the process it came from, when it was re-raised "
                  "here (a Pool worker's, a ProcessPoolExecutor worker's): its last lines"),
            _text("lib", "the multiprocessing and concurrent.futures functions it passed "
                  "through, 'multiprocessing/file.py:function', innermost last, space-separated",
                  size=1024),
        ), "hooks/errors.py: audit() and the traceback.print_exc wrapper",
            "when an exception ends the interpreter, or a Process's target (multiprocessing "
            "prints it and the child exits with status 1)"),
        Kind(CHILD_EXIT, (
            _int("child", "pid of the child", 1, PID_MAX),
            _int("exitcode", "its exit code as multiprocessing gives it: -N for signal N",
                 -128, 255),
        ), "hooks/processes.py: the Popen.poll wrappers",
            "in the parent, the first time it learns that a child it started with "
            "multiprocessing ended with a non-zero exit code"),
    )}
    _ENVELOPE = {f.name: f for f in ENVELOPE}


_ENVELOPE: "Dict[str, Field]" = {}


def __getattr__(name: str) -> "Any":
    if name in ("ENVELOPE", "KINDS"):
        _declare()
        return globals()[name]
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def _tables() -> "Tuple[Tuple[Field, ...], Dict[str, Kind]]":
    if not _ENVELOPE:
        _declare()
    return ENVELOPE, KINDS


# -- the watchdog's side -----------------------------------------------------------------------

def _short(value: object) -> str:
    """A bounded description of a bad value, for an error message."""
    try:
        text = repr(value)
    except Exception:
        text = "<%s>" % type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _check(field: "Field", value: object) -> "Any":
    """``value`` as the field declares it, or ProtocolError."""
    if value is None:
        if field.null or not field.required:  # (an optional field may be sent as null)
            return None
        raise ProtocolError("%s: null is not allowed" % field.name)
    t = field.type
    if t == TEXT:
        if type(value) is not str:
            raise ProtocolError("%s: not a string: %s" % (field.name, _short(value)))
        if len(value) > field.size:
            raise ProtocolError("%s: longer than %d characters" % (field.name, field.size))
        try:
            value.encode("utf-8")  # a lone surrogate (from a \\ud800 escape) cannot be written
        except UnicodeError:
            raise ProtocolError("%s: not valid unicode" % field.name) from None
        if field.choices is not None and value not in field.choices:
            raise ProtocolError("%s: not one of %s: %s" % (field.name, "/".join(field.choices),
                                                           _short(value)))
        return value
    if t == INT:
        if type(value) is not int:
            raise ProtocolError("%s: not an integer: %s" % (field.name, _short(value)))
        if not field.low <= value <= field.high:
            raise ProtocolError("%s: out of range: %s" % (field.name, _short(value)))
        return value
    if t == NUMBER:
        if type(value) is not int and type(value) is not float:
            raise ProtocolError("%s: not a number: %s" % (field.name, _short(value)))
        if not field.low <= value <= field.high:  # (NaN fails this too)
            raise ProtocolError("%s: out of range: %s" % (field.name, _short(value)))
        return float(value)  # type: ignore[arg-type]
    if t == BOOL:
        if type(value) is not bool:
            raise ProtocolError("%s: not true or false: %s" % (field.name, _short(value)))
        return value
    if t == RECORDS:
        if type(value) is not list:
            raise ProtocolError("%s: not a list: %s" % (field.name, _short(value)))
        if len(value) > field.size:
            raise ProtocolError("%s: more than %d items" % (field.name, field.size))
        return [_fields(field.fields, field.by_name, item, "%s[%d]" % (field.name, i))
                for i, item in enumerate(value)]
    raise ProtocolError("%s: unknown field type %r" % (field.name, t))  # (a bug of this table)


def _fields(fields: "Tuple[Field, ...]", by_name: "Dict[str, Field]", obj: object, where: str,
            skip: "Dict[str, Field]" = {}) -> "Dict[str, Any]":  # noqa: B006 - never mutated
    """The declared fields of ``obj`` (every one present; absent optional ones as None), and
    no others (except the names in ``skip``)."""
    if type(obj) is not dict:
        raise ProtocolError("%s: not an object: %s" % (where, _short(obj)))
    for key in obj:
        if key not in by_name and key not in skip:
            raise ProtocolError("%s: unknown field %s" % (where, _short(key)))
    out = {}
    for f in fields:
        if f.name in obj:
            out[f.name] = _check(f, obj[f.name])
        elif f.required:
            raise ProtocolError("%s: %s is missing" % (where, f.name))
        else:
            out[f.name] = None
    return out


def envelope(raw: object) -> "Tuple[float, int]":
    """``(t, dropped_before)`` of a decoded datagram, checked."""
    return envelope_drops(raw)[:2]  # type: ignore[return-value]


def envelope_drops(raw: object) -> "Tuple[float, int, int]":
    """``(t, dropped_before, timers_dropped_before)`` of a decoded datagram, checked (without
    ``timers_dropped_before``, every dropped event counts as one that may have been a timer's:
    hooks of an older mpdoctor did not say)."""
    if type(raw) is not dict:
        raise ProtocolError("not an object: %s" % _short(raw))
    for f in _tables()[0]:
        if f.name in raw:
            _check(f, raw[f.name])
        elif f.required:
            raise ProtocolError("%s is missing" % f.name)
    dropped = raw.get("dropped_before") or 0
    timers = raw.get("timers_dropped_before")
    return float(raw["t"]), dropped, dropped if timers is None else min(timers, dropped)


def validate(raw: object) -> "Tuple[str, Dict[str, Any]]":
    """``(kind, data)`` of a decoded datagram: ``data`` holds every field the kind declares
    (absent optional ones as None), each of the declared type and within its limits, and
    nothing else.  Anything else raises :class:`ProtocolError`, never another exception."""
    envelope(raw)
    assert type(raw) is dict  # (envelope() checked it)
    kind = raw["ev"]
    spec = _tables()[1].get(kind)
    if spec is None:
        raise ProtocolError("unknown kind: %s" % _short(kind))
    return kind, _fields(spec.fields, spec.by_name, raw, kind, _ENVELOPE)


def check(kind: object, data: object) -> "Dict[str, Any]":
    """The fields of an event of ``kind`` (read from a saved snapshot, say), checked as
    :func:`validate` checks a datagram's."""
    spec = _tables()[1].get(kind) if type(kind) is str else None  # type: ignore[arg-type]
    if spec is None:
        raise ProtocolError("unknown kind: %s" % _short(kind))
    return _fields(spec.fields, spec.by_name, data, spec.name)


def _no_constant(name: str) -> "Any":
    raise ProtocolError("not a JSON number: %s" % name)


def _int_literal(text: str) -> int:
    # a number of thousands of digits takes quadratic time to convert (Python < 3.11)
    if len(text) > 24:
        raise ProtocolError("an integer of %d digits" % len(text))
    return int(text)


#: JSON's whitespace (what may come before and after the value)
_WHITESPACE = " \t\n\r"


class _ScanContext:
    """What the C scanner of ``json`` (``_json.make_scanner``) reads of a decoder: the
    settings of ``json.JSONDecoder(parse_constant=..., parse_int=...)``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    array_hook = None  # (read from Python 3.15 on; a scanner that asks for more falls back)
    parse_float = float
    parse_int = staticmethod(_int_literal)
    parse_constant = staticmethod(_no_constant)


_decoder: "List[Any]" = []


def _scanner() -> "Any":
    """``scan(text, index) -> (value, end)``: the C scanner itself when there is one.  The
    watchdog reads every datagram with it while the script starts, and ``json`` would import
    ``re`` (more than a short script's run time) for what the scanner does alone."""
    if not _decoder:
        try:
            import _json
            _decoder.append(_json.make_scanner(_ScanContext()))  # type: ignore[arg-type]
        except (ImportError, AttributeError):  # (no C accelerator: json's own decoder)
            import json
            decoder = json.JSONDecoder(parse_constant=_no_constant, parse_int=_int_literal)
            _decoder.append(decoder.raw_decode)
    return _decoder[0]


def decode(datagram: bytes) -> object:
    """The JSON value of a datagram: strict UTF-8, no NaN or Infinity, no huge integers, no
    deep nesting; anything else raises :class:`ProtocolError`."""
    if len(datagram) > MAX_DATAGRAM:
        raise ProtocolError("%d bytes, more than %d" % (len(datagram), MAX_DATAGRAM))
    scan = _scanner()
    try:
        text = datagram.decode("utf-8")
        value, end = scan(text, len(text) - len(text.lstrip(_WHITESPACE)))
    except ProtocolError:
        raise
    except StopIteration:  # (the scanner's way of saying there is no value at all)
        raise ProtocolError("not JSON: no value") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError, nesting
        raise ProtocolError("not JSON: %s" % _short(str(exc))) from None
    if text[end:].strip(_WHITESPACE):
        raise ProtocolError("not JSON: extra data after the value")
    return value


def _bound(n: int) -> str:
    for limit, text in ((COUNT_MAX, "2^63-1"), (INODE_MAX, "2^64-1")):
        if abs(n) == limit:
            return ("-" if n < 0 else "") + text
    return str(n)


def describe(field: "Field") -> str:
    """A field's type and limits in words (the tables of docs/events.md)."""
    t = field.type
    if t == TEXT:
        out = ("one of " + ", ".join(field.choices) if field.choices else
               "text, at most %d characters" % field.size)
    elif t == INT:
        out = "integer, %s to %s" % (_bound(field.low), _bound(field.high))
    elif t == NUMBER:
        out = "number, %g to %g" % (field.low, field.high)
    elif t == BOOL:
        out = "true or false"
    else:
        out = "list of at most %d objects" % field.size
    if field.null:
        out += ", or null"
    if not field.required:
        out += "; optional"
    return out
