"""Timers that may end a wait: what each process of the tree has armed, from three sources.

* The hooks inside each Python process report ``alarm()``/``setitimer()`` calls and the
  ``ITIMER_REAL`` state at start-up and after every fork (``hello`` and ``timer`` events): for a
  process that runs them, every timer its Python code set is known, with its expiry.
* ``/proc/PID/timers`` lists the ``timer_create()`` timers of any process (not whether they are
  armed).
* ``/proc/timer_list`` (root only, often masked in containers) lists every armed timer of the
  machine, without saying whose: when every armed ``ITIMER_REAL`` timer there is one the hooks
  reported, no other process can have one.

``ITIMER_VIRTUAL``/``ITIMER_PROF`` and CPU-time clocks count the process's CPU time: they cannot
fire while every thread of it is blocked, so they never end a wait mpdoctor calls stuck.
"""

from __future__ import annotations

import signal
from typing import Dict, Iterable, List, Optional, Tuple

from mpdoctor.hooks import protocol
from mpdoctor.model import Event, Timer
from mpdoctor.observe import procfs

#: how long after its expiry a timer still counts as pending: the signal's handler may still be
#: on its way to the thread (the proof needs a still window after that anyway)
MARGIN = 0.5
#: how close an armed ITIMER_REAL of /proc/timer_list must be to one the hooks reported
MATCH = 0.05

SIGALRM = int(signal.SIGALRM)


def hook_facts(events: Iterable[Event],
               starts: Optional[Dict[int, int]] = None) -> Dict[int, Tuple[Timer, ...]]:
    """{pid: its ITIMER_REAL timer (if armed)} for every process whose hooks said hello.

    The last report wins: a ``hello`` (at start-up, or in a child right after fork, where the
    kernel clears the timers) or a ``timer`` event (after ``alarm()``/``setitimer()``).  With
    ``starts`` ({pid: start time} of the processes there now), a hello from an earlier process
    that had the same pid does not count."""
    latest: Dict[int, Tuple[float, Event]] = {}
    hooked: Dict[int, bool] = {}
    for e in events:
        if e.kind not in (protocol.HELLO, protocol.TIMER):
            continue
        if e.kind == protocol.HELLO:
            start = e.data.get("start")
            hooked[e.pid] = (starts is None or not isinstance(start, int)
                             or starts.get(e.pid) in (None, start))
        mono = _number(e.data.get("mono"))
        if mono is None:
            continue
        if e.kind == protocol.TIMER and e.data.get("which") != "real":
            continue
        seen = latest.get(e.pid)
        if seen is None or mono >= seen[0]:
            latest[e.pid] = (mono, e)
    out: Dict[int, Tuple[Timer, ...]] = {pid: () for pid, yes in hooked.items() if yes}
    for pid, (mono, e) in latest.items():
        if pid not in out:
            continue
        remaining = _number(e.data.get("remaining")) or 0.0
        interval = _number(e.data.get("interval")) or 0.0
        if remaining <= 0 and interval <= 0:
            out[pid] = ()
            continue
        out[pid] = (Timer(SIGALRM, "alarm", expires=mono + remaining, interval=interval,
                          site=str(e.data.get("site") or "")),)
    return out


def _number(value: object) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) < 1e12 else None


def posix(pid: int) -> Tuple[Timer, ...]:
    """The timer_create() timers of a process (armed or not: the kernel does not say)."""
    out: List[Timer] = []
    for t in procfs.posix_timers(pid) or ():
        if t.notify == "none":
            continue
        cpu = t.clock in procfs.CPU_CLOCKS or t.clock < 0
        out.append(Timer(t.signal, "posix", None, cpu=cpu,
                         tid=t.target if t.notify == "thread" else None))
    return tuple(out)
