"""The hooks' configuration, ``MPDOCTOR_HOOKS``: written by the watchdog before it starts the
script, read at every interpreter start of the script's processes (``boot.start``).  Only ``os``
is imported: both ends run this before anything else.
"""

import os

ENV = "MPDOCTOR_HOOKS"


def encode(addr, debug=False):
    """The MPDOCTOR_HOOKS value: version, socket address (hex) and debug flag.  Plain text, so
    that reading it at every interpreter start needs no module (json, base64) at all."""
    return "1;%s;%d" % (os.fsencode(addr).hex(), 1 if debug else 0)


#: the longest unix socket address (sun_path is 108 bytes, with a terminating NUL for a path)
_MAX_ADDR = 107


def decode(value):
    """The configuration in an MPDOCTOR_HOOKS value; ValueError for anything else (the hooks
    then stay off).  The address is a socket path (absolute) or, as older versions of mpdoctor
    wrote, a name in the abstract namespace (starting with a NUL byte)."""
    version, addr, debug = value.split(";")
    if version != "1" or debug not in ("0", "1"):
        raise ValueError("not an MPDOCTOR_HOOKS value")
    raw = bytes.fromhex(addr)
    abstract = raw[:1] == b"\0"
    if not raw or len(raw) > _MAX_ADDR + abstract or (
            not abstract and (raw[:1] != b"/" or b"\0" in raw)):
        raise ValueError("not an event socket address")
    return {"v": 1, "addr": raw.decode("latin-1") if abstract else os.fsdecode(raw),
            "debug": debug == "1"}
