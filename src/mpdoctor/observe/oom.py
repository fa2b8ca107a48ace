"""Was a process killed by the kernel's out-of-memory killer?  A SIGKILL says nothing of who
sent it; two places do, when they can be read:

* the process's memory cgroup counts the OOM kills in it: ``oom_kill`` in ``memory.events``
  (cgroup v2) or in ``memory.oom_control`` (cgroup v1); read at the start of the run and at
  the end, a change means the OOM killer acted inside the script's cgroup meanwhile;
* the kernel log (``/dev/kmsg``, readable by root or with ``kernel.dmesg_restrict=0``) names
  each process it killed: ``Out of memory: Killed process 1234 (python) ...`` or
  ``oom-kill:constraint=...,task=python,pid=1234,uid=0``.

Read-only, and only when a process of the tree died by SIGKILL.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # (the model is imported only when a report needs it: see ``facts``)
    from typing import Dict, Iterable, Optional, Tuple

    from mpdoctor.model import OomFacts

    #: an OOM-kill counter as read: (the file, its oom_kill value)
    Raw = Tuple[str, int]

CGROUP_ROOT = "/sys/fs/cgroup"
KMSG = "/dev/kmsg"
#: the most kernel log records read (the kernel keeps a ring of a few hundred KiB)
KMSG_RECORDS = 100_000

#: what the kernel log says of a process it killed (compiled when a kill is looked for: the
#: counter is read at every start, and ``re`` costs more than that)
KILLED = r"Killed process (\d+) \(([^)]*)\)"
OOM_KILL = r"oom-kill:.*\bpid=(\d+)\b"


def memory_cgroup(pid: int, root: str = CGROUP_ROOT) -> Optional[str]:
    """The file that counts OOM kills for ``pid``'s memory cgroup, or None."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    v2 = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if "memory" in controllers.split(","):  # cgroup v1's memory hierarchy
            candidate = os.path.join(root, "memory", path.lstrip("/"), "memory.oom_control")
            if os.path.exists(candidate):
                return candidate
        if hid == "0" and controllers == "":
            v2 = os.path.join(root, path.lstrip("/"), "memory.events")
            if not os.path.exists(v2):
                v2 = os.path.join(root, "unified", path.lstrip("/"), "memory.events")
    return v2 if v2 is not None and os.path.exists(v2) else None


def read_counter(path: Optional[str]) -> Optional[Raw]:
    """The ``oom_kill`` line of a memory.events or memory.oom_control file."""
    if path is None:
        return None
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return path, int(value)
    except (OSError, ValueError):
        return None
    return None


def counter(pid: int, root: str = CGROUP_ROOT) -> Optional[Raw]:
    return read_counter(memory_cgroup(pid, root))


def kills_in(lines: Iterable[str]) -> Dict[int, str]:
    """{pid: the kernel's line} for every OOM kill in kernel log lines."""
    import re
    killed, oom_kill = re.compile(KILLED), re.compile(OOM_KILL)
    out: Dict[int, str] = {}
    for line in lines:
        text = line.split(";", 1)[1] if ";" in line.split(" ", 1)[0] else line
        text = text.strip()
        m = killed.search(text) or oom_kill.search(text)
        if m is not None:
            out.setdefault(int(m.group(1)), text[:300])
    return out


def kernel_kills(path: str = KMSG) -> Tuple[Optional[Dict[int, str]], str]:
    """The OOM kills in the kernel log, or (None, why it could not be read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return None, f"the kernel log ({path}): {exc.strerror or exc}"
    lines = []
    try:
        for _ in range(KMSG_RECORDS):
            try:
                record = os.read(fd, 8192)
            except BlockingIOError:
                break  # the end of the log
            except BrokenPipeError:
                continue  # records overwritten while reading: go on with the next
            except OSError as exc:
                return None, f"the kernel log ({path}): {exc.strerror or exc}"
            if not record:
                break
            lines.append(record.decode("utf-8", "replace"))
    finally:
        os.close(fd)
    return kills_in(lines), ""


def facts(before: Optional[Raw], pid: int, root: str = CGROUP_ROOT,
          kmsg: str = KMSG) -> "OomFacts":
    """What can be known now, given the counter read at the start (for ``pid``'s cgroup)."""
    from mpdoctor.model import OomCounter, OomFacts

    after = read_counter(before[0]) if before is not None else counter(pid, root)
    kernel, why = kernel_kills(kmsg)
    unreadable = []
    if kernel is None:
        unreadable.append(why)
    if before is None or after is None:
        unreadable.append("the memory cgroup's oom_kill counter")
    return OomFacts(OomCounter(*before) if before else None,
                    OomCounter(*after) if after else None, kernel, tuple(unreadable))
