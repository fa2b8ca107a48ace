"""The one debug channel of mpdoctor, for the watchdog and for the hooks inside the user's
processes alike (standard library only, cheap when off).

``MPDOCTOR_DEBUG=1`` (or ``all``) traces every topic; a comma-separated list picks some:
``watch`` (readings, proof attempts), ``snapshot``, ``proof``, ``stop`` (stopping processes),
``events`` (the hooks' events received), ``hooks`` (inside the user's processes), ``plugin``
(the pytest plugin), ``run`` (the script's start and end).  Each line goes to stderr as::

    [mpdoctor   0.123 4242/4243 watch] proof attempt 3: not stuck: ...

(seconds since this process started tracing, pid/tid, topic).  The variable is read once per
process; a child inherits it.
"""

import _thread
import os
import sys
import time

TOPICS = ("watch", "snapshot", "proof", "stop", "events", "hooks", "plugin", "run")


def _parse(value):
    value = (value or "").strip().lower()
    if not value or value in ("0", "no", "off", "false"):
        return frozenset()
    if value in ("1", "all", "yes", "on", "true"):
        return frozenset(TOPICS)
    return frozenset(t.strip() for t in value.split(",") if t.strip())


ENABLED = _parse(os.environ.get("MPDOCTOR_DEBUG"))
_T0 = time.monotonic()


def on(topic):
    return topic in ENABLED


def log(topic, message):
    """One line of the trace, if ``topic`` is traced; never raises."""
    if topic not in ENABLED:
        return
    try:
        stream = sys.stderr
        if stream is None:
            return
        stream.write("[mpdoctor %8.3f %d/%d %s] %s\n" % (
            time.monotonic() - _T0, os.getpid(), _thread.get_native_id(), topic, message))
        stream.flush()
    except Exception:
        pass
