"""The watchdog's event receiver, in this process: who is heard, what is kept, what is counted,
and that nothing a sender does can kill its reader or hold up close()."""

from __future__ import annotations

import array
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from mpdoctor.hooks import boot, channel, protocol
from mpdoctor.run import events
from mpdoctor.run.events import Receiver
from mpdoctor.run.members import Membership

ME = os.getpid()


def me_only(pid: int) -> bool:
    return pid == ME


def event(kind: str = protocol.PUT_SITE, **fields) -> bytes:
    base = {protocol.PUT_SITE: {"site": "a.py:1", "pipe": 5},
            protocol.HELLO: {"remaining": 0.0, "interval": 0.0, "mono": 1.0, "fork": False,
                             "start": 1},
            protocol.TIMER: {"which": "real", "remaining": 5.0, "interval": 0.0,
                             "mono": 2.0, "site": None}}[kind]
    return channel.encode({"ev": kind, "pid": 1, "t": 1.0, **base, **fields}).encode()


def sender(addr: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(addr)
    return s


def wait_for(predicate, timeout: float = 10.0) -> None:
    """Until the reader thread has caught up (bounded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the reader did not catch up"
        time.sleep(0.005)


@pytest.fixture
def receiver():
    r = Receiver(me_only)
    yield r
    r.close()


def test_the_socket_is_a_short_path_in_a_directory_only_its_user_may_enter(receiver):
    st = os.stat(receiver.dir)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
    assert os.path.dirname(receiver.addr) == receiver.dir
    assert stat.S_ISSOCK(os.stat(receiver.addr).st_mode)
    assert len(os.fsencode(receiver.addr)) <= events.MAX_PATH
    assert boot.decode(receiver.env()[events.ENV])["addr"] == receiver.addr
    receiver.close()
    assert not os.path.exists(receiver.dir)


def test_the_pid_is_the_kernels_not_the_one_written_in_the_datagram(receiver):
    s = sender(receiver.addr)
    s.send(channel.encode({"ev": protocol.PUT_SITE, "pid": 4242, "t": 3.0, "site": "x.py:9",
                           "pipe": 12}).encode())
    wait_for(lambda: receiver.counts().accepted == 1)
    [e] = receiver.snapshot()
    assert (e.kind, e.pid, e.at, e.data) == (protocol.PUT_SITE, ME, 3.0,
                                             {"site": "x.py:9", "pipe": 12})


@pytest.mark.parametrize("verdict,reason,words", [
    (False, events.FOREIGN, "5 from processes outside the watched tree"),
    (None, events.GONE, "5 from processes that had exited before they could be checked")])
def test_a_sender_outside_the_tree_is_counted_never_kept(verdict, reason, words):
    asked = []

    def member(pid):
        asked.append(pid)
        return verdict

    r = Receiver(member)
    try:
        s = sender(r.addr)
        for _ in range(5):
            s.send(event())
        wait_for(lambda: r.counts().received == 5)
        counts = r.counts()
        assert counts.rejected[reason] == 5 and counts.accepted == 0
        assert r.snapshot() == [] and set(asked) == {ME}
        assert words in (events.note(counts) or "")
    finally:
        r.close()


def test_a_clean_run_says_nothing_of_its_own_late_events_but_still_of_foreign_ones():
    from mpdoctor.outcome import EventCounts

    gone = EventCounts(received=2, rejected={events.GONE: 2})
    assert events.note(gone, gone=False) is None
    assert "2 from processes that had exited" in (events.note(gone) or "")
    mixed = EventCounts(received=3, rejected={events.GONE: 2, events.FOREIGN: 1})
    assert events.note(mixed, gone=False) == (
        "1 event datagram was sent to mpdoctor and ignored (1 from processes outside the "
        "watched tree): the report rests only on the events of the watched tree")


class Vouching:
    """Membership for the tests below: this process is a member; any other sender has exited
    before it could be checked (None) until a member vouches for it."""

    def __init__(self):
        self.vouched = []

    def __call__(self, pid):
        return True if pid == ME or pid in self.vouched else None

    def vouch(self, pid):
        self.vouched.append(pid)


def _forked_sender(addr: str, data: bytes) -> int:
    """A child that sends ``data`` and exits; reaped before this returns."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            sender(addr).send(data)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_a_gone_senders_events_are_kept_once_its_parent_vouches_for_it():
    member = Vouching()
    r = Receiver(member)
    try:
        pid = _forked_sender(r.addr, event(site="child.py:7"))
        wait_for(lambda: r.counts().received == 1)
        assert r.counts().rejected[events.GONE] == 1 and r.snapshot() == []
        sender(r.addr).send(channel.encode({"ev": protocol.STARTED_CHILD, "pid": 1, "t": 2.0,
                                            "child": pid, "how": "fork"}).encode())
        wait_for(lambda: r.counts().accepted == 2)
        counts = r.counts()
        assert counts.rejected[events.GONE] == 0 and member.vouched == [pid]
        [e] = r.snapshot()  # the child event itself is used, never kept
        assert (e.kind, e.pid, e.data["site"]) == (protocol.PUT_SITE, pid, "child.py:7")
    finally:
        r.close()


def test_a_voucher_from_outside_the_tree_vouches_for_nobody():
    member = Vouching()
    r = Receiver(lambda pid: False if pid == ME else member(pid))
    try:
        pid = _forked_sender(r.addr, event())
        wait_for(lambda: r.counts().received == 1)
        sender(r.addr).send(channel.encode({"ev": protocol.STARTED_CHILD, "pid": 1, "t": 2.0,
                                            "child": pid, "how": "fork"}).encode())
        wait_for(lambda: r.counts().received == 2)
        counts = r.counts()
        assert counts.rejected[events.GONE] == 1 and counts.rejected[events.FOREIGN] == 1
        assert member.vouched == [] and r.snapshot() == []
    finally:
        r.close()


def test_held_datagrams_are_bounded(monkeypatch):
    monkeypatch.setattr(events, "MAX_HELD", 3)
    r = Receiver(Vouching())
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                s.connect(r.addr)
                for _ in range(5):
                    s.send(event())
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        wait_for(lambda: r.counts().received == 5)
        assert r.counts().rejected[events.GONE] == 5 and r._held_count == 3
    finally:
        r.close()


def test_the_zoo_is_counted_as_invalid_and_the_reader_lives_on(receiver):
    from zoo import ZOO

    s = sender(receiver.addr)
    for name, data in ZOO.items():
        if name != "oversized":
            s.send(data)
    s.send(b" " * (protocol.MAX_DATAGRAM + 1))
    s.send(event())
    wait_for(lambda: receiver.counts().received == len(ZOO) + 1)
    counts = receiver.counts()
    assert counts.rejected[events.INVALID] == len(ZOO) - 1
    assert counts.rejected[events.OVERSIZED] == 1
    assert counts.accepted == 1 and len(receiver.snapshot()) == 1
    assert receiver._thread.is_alive()


def test_file_descriptors_passed_along_are_closed_and_the_datagram_refused(receiver):
    before = len(os.listdir("/proc/self/fd"))
    r, w = os.pipe()
    try:
        with sender(receiver.addr) as s:
            fds = array.array("i", [r, w, r, w])
            s.sendmsg([event()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
            wait_for(lambda: receiver.counts().received == 1)
        assert receiver.counts().rejected[events.INVALID] == 1
    finally:
        os.close(r)
        os.close(w)
    assert len(os.listdir("/proc/self/fd")) == before


def test_kept_events_stay_within_the_budget_and_the_rest_is_counted():
    budget = 50_000
    r = Receiver(me_only, budget=budget)
    try:
        s = sender(r.addr)
        one = event(site="s" * 4000)
        n = 40
        for _ in range(n):
            s.send(one)
        wait_for(lambda: r.counts().received == n)
        counts = r.counts()
        kept = budget // (len(one) + events.EVENT_OVERHEAD)
        assert counts.accepted == kept and len(r.snapshot()) == kept
        assert counts.rejected[events.OVER_BUDGET] == n - kept
        assert counts.kept_bytes <= budget
    finally:
        r.close()


def test_only_the_latest_report_of_each_timer_is_kept(receiver):
    s = sender(receiver.addr)
    s.send(event(protocol.HELLO))
    for i in range(500):
        s.send(event(protocol.TIMER, remaining=float(i), mono=10.0 + i))
    s.send(event(protocol.TIMER, which="prof", remaining=1.0))
    wait_for(lambda: receiver.counts().received == 502)
    timers = [e for e in receiver.snapshot() if e.kind == protocol.TIMER]
    assert sorted((e.data["which"], e.data["remaining"]) for e in timers) == [
        ("prof", 1.0), ("real", 499.0)]
    assert receiver.counts().kept_bytes < 5 * (len(event(protocol.TIMER)) + 1024)


def test_a_process_that_lost_an_event_counts_as_one_without_hooks(receiver):
    """What it could not send may have been a timer: its timers are unknown from then on."""
    from mpdoctor.observe import timers

    s = sender(receiver.addr)
    s.send(event(protocol.HELLO))
    wait_for(lambda: receiver.counts().accepted == 1)
    assert ME in timers.hook_facts(receiver.snapshot())
    s.send(event(dropped_before=3))
    wait_for(lambda: receiver.counts().accepted == 2)
    assert receiver.counts().lost == 3
    assert ME not in timers.hook_facts(receiver.snapshot())


@pytest.mark.parametrize("timers_dropped,unsure", [(0, False), (1, True), (None, True)])
def test_only_a_lost_timer_event_hides_a_processs_timers(receiver, timers_dropped, unsure):
    """The hooks say how many of the lost events were about timers (hello, timer); a put site
    or a pool call lost hides nothing from the proof.  Without that count (older hooks),
    every lost event may have been a timer's."""
    from mpdoctor.observe import timers

    s = sender(receiver.addr)
    s.send(event(protocol.HELLO))
    extra = {} if timers_dropped is None else {"timers_dropped_before": timers_dropped}
    s.send(event(dropped_before=3, **extra))
    wait_for(lambda: receiver.counts().accepted == 2)
    assert receiver.counts().lost == 3
    assert (ME not in timers.hook_facts(receiver.snapshot())) is unsure


def test_a_hello_waits_for_room_and_other_events_give_up(tmp_path, monkeypatch):
    """The watchdog's queue is full (net.unix.max_dgram_qlen, often 10): a put site gives up
    after WAIT and is counted as dropped (not about a timer); a hello waits up to HELLO_WAIT
    and gets through once the reader catches up."""
    addr = str(tmp_path / "s")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(addr)
    monkeypatch.setattr(channel, "_state", dict(channel._state, dead=False, dropped=0,
                                                timers_dropped=0))
    channel.configure(addr)
    try:
        filler = sender(addr)
        filler.setblocking(False)
        queued = 0
        try:
            while queued < 10_000:
                filler.send(b"{}")
                queued += 1
        except BlockingIOError:
            pass
        channel.send(protocol.PUT_SITE, site="a.py:1", pipe=5)
        assert channel._state["dropped"] == 1 and channel._state["timers_dropped"] == 0
        hello = threading.Thread(target=channel.send_closing, args=(protocol.HELLO,),
                                 kwargs=dict(remaining=0.0, interval=0.0, mono=1.0,
                                             fork=False, start=1))
        hello.start()
        time.sleep(0.2)  # the hello is waiting now (its wait is 2 s)
        for _ in range(queued):
            server.recv(65536)
        hello.join(10)
        got = json.loads(server.recv(65536))
        assert got["ev"] == protocol.HELLO
        assert got["dropped_before"] == 1 and got["timers_dropped_before"] == 0
        assert channel._state["dropped"] == 0
    finally:
        channel.configure(None)
        server.close()


def test_an_invalid_event_from_the_tree_makes_its_sender_one_without_hooks(receiver):
    from mpdoctor.observe import timers

    s = sender(receiver.addr)
    s.send(event(protocol.HELLO))
    s.send(b'{"ev": "timer", "t": 1, "which": "real", "remaining": "soon"}')
    wait_for(lambda: receiver.counts().received == 2)
    assert ME not in timers.hook_facts(receiver.snapshot())


def test_close_returns_in_bounded_time_with_a_stuck_reader_and_a_full_queue():
    """The reader is stuck in its first datagram; every other sender's datagrams fill the
    kernel's queue.  close() used to wait in sendto() for room that never came."""
    release = threading.Event()
    entered = threading.Event()

    def stuck(pid):
        entered.set()
        release.wait(60)
        return True

    r = Receiver(stuck)
    try:
        s = sender(r.addr)
        s.send(event())
        assert entered.wait(10)
        s.setblocking(False)
        sent = 0
        with pytest.raises(BlockingIOError):
            while sent < 100_000:
                s.send(event(site="x" * 4000))
                sent += 1
        t0 = time.monotonic()
        r.close()
        took = time.monotonic() - t0
        assert took < events.JOIN_TIMEOUT + events.DRAIN_TIME + 5.0
        assert not os.path.exists(r.dir)
    finally:
        release.set()
    r._thread.join(10)
    assert not r._thread.is_alive()


def test_close_is_bounded_while_an_outsider_floods_the_socket():
    r = Receiver(lambda pid: False)
    stop = threading.Event()

    def flood():
        s = sender(r.addr)
        s.settimeout(0.05)
        while not stop.is_set():
            try:
                s.send(b"x" * 1000)
            except OSError:
                if not os.path.exists(r.addr) and stop.wait(0.01):
                    return

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        wait_for(lambda: r.counts().received > 100)
        t0 = time.monotonic()
        r.close()
        assert time.monotonic() - t0 < events.JOIN_TIMEOUT + events.DRAIN_TIME + 5.0
        assert r.counts().rejected[events.FOREIGN] == r.counts().received
    finally:
        stop.set()
        t.join(10)


def test_close_twice_is_harmless(receiver):
    receiver.close()
    receiver.close()
    assert receiver.snapshot() == []


def test_the_hooks_give_up_on_a_socket_they_may_not_reach(tmp_path, monkeypatch):
    """A process of the tree that changed its user: no retry per event."""
    tmp_path.chmod(0o700)
    addr = str(tmp_path / "s")
    monkeypatch.setitem(channel._state, "dead", False)
    channel.configure(addr)
    try:
        calls = []

        def refuse():
            calls.append(1)
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(channel, "_socket", refuse)
        channel.send(protocol.PUT_SITE, site="a:1", pipe=None)
        channel.send(protocol.PUT_SITE, site="a:1", pipe=None)
        assert channel._state["dead"] and calls == [1]
    finally:
        channel.configure(None)
        channel._state["dead"] = False


@pytest.mark.parametrize("value", ["", "garbage", "1;zz;0", "1;;0", "2;2f;0", "1;2f;x",
                                   "1;" + b"relative/s".hex() + ";0",
                                   "1;" + b"/a\0b".hex() + ";0",
                                   "1;" + (b"/" + b"a" * 200).hex() + ";0"])
def test_a_bad_hooks_value_means_hooks_off_never_a_crash(value):
    with pytest.raises(ValueError):
        boot.decode(value)
    code = ("import mpdoctor.hooks.boot as b, mpdoctor.hooks.channel as c; "
            "print(b._installed['done'], c._state['addr'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, events.ENV: value}, timeout=60)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.split() == ["False", "None"]


def test_an_older_abstract_address_still_decodes():
    addr = "\0mpdoctor-1-abc"
    assert boot.decode(boot.encode(addr))["addr"] == addr


# -- membership ---------------------------------------------------------------------------------

@pytest.fixture
def child():
    """A child of this process that waits for a line (handshake: it says ready first)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); "
                             "sys.stdin.readline()"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    yield proc
    proc.kill()
    proc.wait(10)


def test_the_tree_is_the_anchor_and_what_is_below_it(child):
    m = Membership(ME, include_anchor=True)
    assert m(ME) is True and m(child.pid) is True
    assert m(os.getppid()) is False and m(1) is False
    outside = Membership(ME, include_anchor=False)
    assert outside(ME) is False and outside(child.pid) is True


def test_excluded_children_of_the_anchor_are_outside(child):
    m = Membership(ME, include_anchor=False, exclude=lambda: {child.pid})
    assert m(child.pid) is False


def test_an_exited_member_is_still_one_and_an_unknown_exited_pid_cannot_be_told(child):
    m = Membership(ME, include_anchor=True)
    assert m(child.pid) is True
    pid = child.pid
    child.stdin.close()
    child.wait(10)
    assert m(pid) is True  # seen before it exited (unless the pid is in use again already)
    other = subprocess.Popen([sys.executable, "-c", "pass"])
    other.wait(10)
    fresh = Membership(ME, include_anchor=True)
    assert fresh(other.pid) is None


def test_a_reused_pid_is_judged_again(child, monkeypatch):
    from mpdoctor.observe import procfs

    m = Membership(ME, include_anchor=True)
    assert m(child.pid) is True
    real = procfs.stat

    def reborn(pid, tid=None):
        st = real(pid, tid)
        if pid == child.pid and st is not None:
            return st._replace(starttime=st.starttime + 1, ppid=1)
        return st

    monkeypatch.setattr(procfs, "stat", reborn)
    assert m(child.pid) is False


def test_json_report_has_the_counts():
    from mpdoctor.model import EventCounts
    from mpdoctor.report import Report
    from mpdoctor.report.jsonreport import to_dict

    counts = EventCounts(received=3, accepted=1, rejected={"foreign": 2}, lost=4,
                         kept_bytes=100)
    d = to_dict(Report(verdict="ok", exit_code=0, events=counts))
    assert d["events"] == {"received": 3, "accepted": 1, "rejected": {"foreign": 2}, "lost": 4,
                           "kept_bytes": 100}
    assert json.loads(json.dumps(d))["events"]["rejected"]["foreign"] == 2
    assert to_dict(Report(verdict="ok", exit_code=0))["events"] is None


ORPHAN = r"""
import ctypes, json, os
from mpdoctor.run.members import Membership
assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
r, w = os.pipe()
ready_r, ready_w = os.pipe()
child = os.fork()
if child == 0:
    if os.fork() == 0:
        os.write(ready_w, b"x")
        os.read(r, 1)  # until told to go
        os._exit(0)
    os._exit(0)
os.waitpid(child, 0)  # the grandchild is an orphan now: re-parented to this process
assert os.read(ready_r, 1) == b"x"
grandchild = [int(p) for p in open("/proc/%d/task/%d/children" % (os.getpid(), os.getpid()))
              .read().split()]
members = Membership(os.getpid(), include_anchor=False)  # never saw it before
print(json.dumps([grandchild, [members(p) for p in grandchild], members(os.getppid())]),
      flush=True)
os.write(w, b"x")
"""


def test_an_orphan_re_parented_to_the_subreaper_is_a_member_at_first_sight():
    out = subprocess.run([sys.executable, "-c", ORPHAN], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    pids, verdicts, parent = json.loads(out.stdout)
    assert len(pids) == 1 and verdicts == [True] and parent is False
