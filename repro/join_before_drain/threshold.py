"""From which item size on does seed_hang.py hang?  A model that predicts it, and a command that
measures it.

    python threshold.py predict [--children C ...] [--pipe-size BYTES]
    python threshold.py explain --children C N
    python threshold.py measure [--children C ...] [--timeout S] [--start-method M]
    python threshold.py probe --children C N

Each child of seed_hang.py puts one item, ``['hello', N * 'ss']``; the parent joins them all
before reading.  It hangs as soon as the children's writes do not all fit in the queue's pipe.
"All fit" is not "the total is at most 64 KiB": the model below replays the writes the way
multiprocessing makes them and the way Linux stores them, and predicts the first N that hangs.

How multiprocessing writes one item (``Connection._send_bytes``): the item is pickled with
``ForkingPickler`` (the default pickle protocol: 4 on Python 3.8 to 3.13), and a 4-byte length
header goes in front.  Up to 16,384 pickled bytes, header and body go out in one ``write()``;
above that, in two: the header alone, then the body.  Feeders of different children take the
queue's write lock around a whole item, so items never interleave.

How Linux stores a write in a pipe (``pipe_write`` in fs/pipe.c): the pipe is a ring of slots,
one page (4 KiB) each; 64 KiB = 16 slots.  A write first tries to put its *tail*
(``len % PAGE_SIZE`` bytes) into the last, partly filled slot, and only if the tail fits there
whole.  Everything else goes into fresh slots, a page at a time.  So a slot can be mostly empty
and still taken: ten 6,146-byte items need two slots each (a full page and 2,050 bytes) because
no two 2,050-byte tails share a page, and 20 slots are more than 16.

``predict`` and ``explain`` only compute; ``measure`` runs seed_hang.py (or
nonfix_bigger_pipe.py with ``--pipe-size``) again and again, each run bounded by ``--timeout``
and its whole process group killed afterwards, and bisects to the first N that hangs.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing.reduction import ForkingPickler
from typing import List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "seed_hang.py")
BIGGER_PIPE = os.path.join(HERE, "nonfix_bigger_pipe.py")

HEADER = 4  # Connection._send_bytes: struct.pack("!i", len(body))
ONE_WRITE_MAX = 16384  # bodies up to this size go out with their header in one write()
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)  # fcntl has it from Python 3.10 on
CHILD_COUNTS = (1, 2, 3, 10, 20)


# -- the model: pure computation, no process is started ------------------------------------------

def item(n: int) -> list:
    """What each child of seed_hang.py puts."""
    return ["hello", n * "ss"]


def pickled_size(n: int, protocol: Optional[int] = None) -> int:
    """Bytes of the pickled item, as the queue's feeder pickles it."""
    return len(ForkingPickler.dumps(item(n), protocol))


def writes(body: int) -> List[int]:
    """The write() calls that send one pickled body of ``body`` bytes (header included)."""
    if body > ONE_WRITE_MAX:
        return [HEADER, body]
    return [HEADER + body]


class PipeModel:
    """The slots of a Linux pipe nobody reads, filled the way ``pipe_write`` fills them."""

    def __init__(self, capacity: int = 65536, page: int = 4096) -> None:
        self.page = page
        self.slots = capacity // page
        self.used: List[int] = []  # bytes in each occupied slot, oldest first

    def write(self, count: int) -> bool:
        """Store ``count`` bytes; False when the writer would block before the end."""
        tail = count % self.page
        # the tail merges into the last slot only if the pipe is not empty and it fits whole
        if tail and self.used and self.used[-1] + tail <= self.page:
            self.used[-1] += tail
            count -= tail
        while count:
            if len(self.used) == self.slots:
                return False  # full: the writer sleeps until someone reads
            chunk = min(count, self.page)
            self.used.append(chunk)
            count -= chunk
        return True


def fits(children: int, n: int, capacity: int = 65536, page: int = 4096,
         protocol: Optional[int] = None) -> bool:
    """True when every child's item fits in the pipe, so that seed_hang.py ends."""
    pipe = PipeModel(capacity, page)
    body = pickled_size(n, protocol)
    return all(pipe.write(w) for _ in range(children) for w in writes(body))


def first_hanging(children: int, capacity: int = 65536, page: int = 4096,
                  protocol: Optional[int] = None) -> int:
    """The smallest N for which seed_hang.py with ``children`` children hangs."""
    lo, hi = 0, capacity // 2 + 1  # one item of 2 * hi characters alone overfills the pipe
    if not fits(children, lo, capacity, page, protocol):
        return lo
    while hi - lo > 1:  # the model is monotonic in N (tests/test_catalogue.py checks)
        mid = (lo + hi) // 2
        if fits(children, mid, capacity, page, protocol):
            lo = mid
        else:
            hi = mid
    return hi


def naive_first_hanging(children: int, capacity: int = 65536,
                        protocol: Optional[int] = None) -> int:
    """What "children x bytes per item > capacity" would predict."""
    n = 0
    while children * (HEADER + pickled_size(n, protocol)) <= capacity:
        n += 1
    return n


def explain(children: int, n: int, capacity: int = 65536, page: int = 4096,
            protocol: Optional[int] = None) -> List[str]:
    """The pipe's slots after each write, as lines of text."""
    pipe = PipeModel(capacity, page)
    body = pickled_size(n, protocol)
    lines = [f"N = {n}: each item is {HEADER} + {body:,} bytes, sent as "
             f"{' + '.join(map(str, writes(body)))}; the pipe has {pipe.slots} slots of "
             f"{page} bytes"]
    for child in range(1, children + 1):
        for w in writes(body):
            ok = pipe.write(w)
            lines.append(f"  child {child:2}: write({w:>6}) -> {len(pipe.used):2} slots "
                         f"{'' if ok else 'FULL: the writer blocks'}".rstrip())
            if not ok:
                lines.append(f"hangs: {child - 1} of {children} items fit")
                return lines
    lines.append(f"fits: {len(pipe.used)} of {pipe.slots} slots used, "
                 f"{sum(pipe.used):,} bytes")
    return lines


def default_capacity() -> int:
    """The size of a new pipe on this machine (F_GETPIPE_SZ)."""
    r, w = os.pipe()
    try:
        return fcntl.fcntl(w, F_GETPIPE_SZ)
    finally:
        os.close(r)
        os.close(w)


# -- the measurement: bounded runs of the real reproducer ----------------------------------------

def _group_members(pgid: int) -> List[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            out.append(int(name))
    return out


def probe(children: int, n: int, timeout: float = 3.0, start_method: Optional[str] = None,
          pipe_size: Optional[int] = None) -> bool:
    """Run the reproducer once: True if it ended by itself within ``timeout`` seconds, False if
    it was still running (hung).  It runs in a session of its own; its whole process group is
    killed afterwards, and this returns only once none of it is left."""
    method = start_method or _default_method()
    if pipe_size is None:
        cmd = [sys.executable, SEED, str(n), method, str(children)]
    else:
        cmd = [sys.executable, BIGGER_PIPE, str(n), str(pipe_size), method, str(children)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)
        try:
            proc.wait(timeout)
            ended = True
        except subprocess.TimeoutExpired:
            ended = False
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the session leader's pid is the pgid
            except ProcessLookupError:
                pass
            proc.wait()
            deadline = time.monotonic() + 10
            while _group_members(proc.pid):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"processes of group {proc.pid} survived SIGKILL: "
                                       f"{_group_members(proc.pid)}")
                time.sleep(0.01)
        if ended and proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed with status {proc.returncode}:\n"
                               f"{err.read().decode(errors='replace')}")
    return ended


def measure(children: int, timeout: float = 3.0, start_method: Optional[str] = None,
            pipe_size: Optional[int] = None, lo: int = 1, hi: int = 65536,
            log=None) -> int:
    """Bisect with real runs to the first N that hangs; ``lo`` must end, ``hi`` must hang."""
    def run(n: int) -> bool:
        ok = probe(children, n, timeout, start_method, pipe_size)
        if log:
            log(f"  children={children} N={n}: {'ends' if ok else 'hangs'}")
        return ok

    if not run(lo):
        raise RuntimeError(f"N = {lo} already hangs with {children} children: lower --low")
    if run(hi):
        raise RuntimeError(f"N = {hi} does not hang with {children} children: raise --high")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if run(mid):
            lo = mid
        else:
            hi = mid
    return hi


def _default_method() -> str:
    import multiprocessing
    return multiprocessing.get_start_method()


# -- command line -------------------------------------------------------------------------------

def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--pipe-size", type=int, default=None,
                        help="pipe capacity in bytes (default: a new pipe's, F_GETPIPE_SZ)")
    predict_p = sub.add_parser("predict", parents=[common], help="compute the first hanging N")
    predict_p.add_argument("--children", type=int, nargs="+", default=list(CHILD_COUNTS))
    explain_p = sub.add_parser("explain", parents=[common], help="show the slots, write by write")
    explain_p.add_argument("--children", type=int, default=10)
    explain_p.add_argument("n", type=int)
    for name, what in (("measure", "bisect with bounded runs to the first hanging N"),
                       ("probe", "one bounded run: does N hang?")):
        p = sub.add_parser(name, parents=[common], help=what)
        p.add_argument("--timeout", type=float, default=3.0,
                       help="seconds after which a run counts as hung (default 3)")
        p.add_argument("--start-method", default=None)
        if name == "measure":
            p.add_argument("--children", type=int, nargs="+", default=list(CHILD_COUNTS))
            p.add_argument("--low", type=int, default=1)
            p.add_argument("--high", type=int, default=65536)
        else:
            p.add_argument("--children", type=int, default=10)
            p.add_argument("n", type=int)
    args = parser.parse_args(argv)

    capacity = args.pipe_size or default_capacity()
    page = os.sysconf("SC_PAGE_SIZE")
    if args.command == "explain":
        print("\n".join(explain(args.children, args.n, capacity, page)))
        return 0
    if args.command == "probe":
        ok = probe(args.children, args.n, args.timeout, args.start_method, args.pipe_size)
        print(f"children={args.children} N={args.n}: {'ends' if ok else 'hangs'}")
        return 0 if ok else 1
    header = ["children", "bytes per item at that N", "naive: children x bytes > pipe",
              "model"]
    rows = []
    for c in args.children:
        predicted = first_hanging(c, capacity, page)
        row = [c, f"{HEADER + pickled_size(predicted):,}", naive_first_hanging(c, capacity),
               predicted]
        if args.command == "measure":
            measured = measure(c, args.timeout, args.start_method, args.pipe_size, args.low,
                               args.high, log=lambda s: print(s, file=sys.stderr, flush=True))
            row.append(measured)
        rows.append(row)
    if args.command == "measure":
        header.append(f"measured ({args.start_method or _default_method()})")
    print(f"first N that hangs (pipe of {capacity:,} bytes, pages of {page} bytes, "
          f"Python {sys.version_info[0]}.{sys.version_info[1]}):")
    print("\n".join(_table(rows, header)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
