"""Start the script, watch it, and stop its whole tree when it is proven stuck or times out.

* The script inherits mpdoctor's stdin, stdout and stderr as they are: its output passes through
  byte for byte, with no copy and no added buffering.
* It runs in its own process group; on a terminal, that group becomes the foreground group, so
  Ctrl-C reaches the script first (as without mpdoctor).
* mpdoctor is a child subreaper (``PR_SET_CHILD_SUBREAPER``): a descendant that double-forks or
  calls ``setsid`` is re-parented to mpdoctor, so it stays in view and is stopped with the rest.
* The script gets ``PR_SET_PDEATHSIG``: if mpdoctor is killed, the script is killed too.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Set

from mpdoctor.debug import log
from mpdoctor.observe import procfs
from mpdoctor.run import events as event_channel
from mpdoctor.run.events import Receiver
from mpdoctor.run.members import Membership

if TYPE_CHECKING:  # the rest is imported after the script has been started (start-up time)
    from mpdoctor.diagnose import Diagnosis
    from mpdoctor.model import Event, EventCounts, Snapshot
    from mpdoctor.observe.pyspy import Dumper
    from mpdoctor.run.watch import Watchdog

_ZOMBIE = procfs.Stat(0, "", "Z", 0, 0, 0, 0, 0)

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

#: after the script exits, how long what it leaves behind (multiprocessing's resource tracker
#: finishing its cleanup, say) may take to end by itself before it is stopped
LINGER = 2.0

#: when the first poll comes (the watch machinery is loaded then)
FIRST_POLL = 0.1

#: how long a resource tracker may take to clean up after the rest of the tree is gone
TRACKER_GRACE = 2.0

#: after SIGTERM/SIGHUP is forwarded, how long the script may take to end before it is killed
TERM_GRACE = 5.0

#: the interrupt sentinel (see Supervisor._start_sentinel): reports each SIGINT on a pipe
SENTINEL = (
    "import os, signal, sys\n"
    "fd = int(sys.argv[1])\n"
    "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,\n"
    "          signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):\n"
    "    signal.signal(s, signal.SIG_IGN)\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"
    "while True:\n"
    "    signal.sigwait({signal.SIGINT})\n"
    "    os.write(fd, b'I')\n"
)

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2)


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


@dataclass
class Outcome:
    verdict: str  # "ok" | "failed" | "deadlock" | "timeout"
    status: Optional[int] = None  # the script's exit code; -N if killed by signal N
    diagnosis: Optional[Diagnosis] = None
    snapshot: Optional[Snapshot] = None
    started_at: float = 0.0  # time.time()
    duration: float = 0.0  # seconds from start to the end of the script or the verdict
    proof_seconds: float = 0.0  # time spent proving and collecting stacks
    notes: List[str] = field(default_factory=list)
    stopped: int = 0  # processes of the tree mpdoctor had to stop
    events: List[Event] = field(default_factory=list)  # what the in-process hooks reported
    #: what the event receiver did with what it was sent (None without hooks)
    event_counts: Optional[EventCounts] = None


class Supervisor:
    def __init__(self, argv: List[str], timeout: Optional[float] = None,
                 env: Optional[Dict[str, str]] = None,
                 dumper: Optional[Dumper] = None,
                 hooks: bool = True) -> None:
        self.argv = argv
        self.timeout = timeout
        self.env = env
        self._dumper = dumper
        self.notes: List[str] = []
        self._sentinel: Optional[subprocess.Popen] = None
        self.receiver: Optional[Receiver] = None
        if hooks:
            # heard: the processes below mpdoctor (the script's tree and the orphans it
            # inherits as subreaper), except mpdoctor's own helpers
            members = Membership(os.getpid(), include_anchor=False, exclude=self._helpers)
            try:
                self.receiver = Receiver(members, debug=bool(os.environ.get("MPDOCTOR_DEBUG")))
            except OSError as err:
                self.notes.append(f"no hooks in the script's processes: mpdoctor could not "
                                  f"create its event socket ({err})")
        self.root_pid = 0
        self._status: Optional[int] = None
        self._wake_r = self._wake_w = -1
        self._old_handlers: Dict[int, object] = {}
        #: signals ignored when mpdoctor started; the script gets them ignored too
        self._ignored: Set[int] = set()
        #: the signal mask mpdoctor started with; the script gets it too
        self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
        self._tty_fd: Optional[int] = None
        self._sentinel_r = -1

    @property
    def dumper(self) -> "Dumper":
        if self._dumper is None:
            from mpdoctor.observe.pyspy import Dumper
            self._dumper = Dumper()
        return self._dumper

    # -- setup and teardown --------------------------------------------------------------------
    def _install_signals(self) -> None:
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self._wake_w)

        def handler(signum, frame):  # noqa: ARG001 - the wakeup fd carries the signal number
            pass

        for sig in FORWARDED + (signal.SIGCHLD,):
            if signal.getsignal(sig) is signal.SIG_IGN:
                # ignored by whoever started mpdoctor (nohup, a background job): the script
                # inherits it ignored, as it would from a plain `python`; mpdoctor ignores it
                # too, so that it stops nothing either
                self._ignored.add(sig)
                if sig != signal.SIGCHLD:  # mpdoctor itself must still hear its children
                    continue
            self._old_handlers[sig] = signal.signal(sig, handler)

    def _restore_signals(self, had_terminal: bool = False) -> None:
        for sig, old in self._old_handlers.items():
            if sig == signal.SIGINT and had_terminal:
                # the terminal is mpdoctor's again: a Ctrl-C still on its way (meant for the
                # script) must not cut the report short; mpdoctor exits right after it
                old = signal.SIG_IGN
            signal.signal(sig, old)  # type: ignore[arg-type]
        signal.set_wakeup_fd(-1)
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)

    def _spawn(self) -> subprocess.Popen:
        ignored = sorted(self._ignored)
        mask = self._mask

        def child_setup() -> None:
            os.setpgid(0, 0)
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            # what plain python would have inherited from mpdoctor's caller: the dispositions
            # mpdoctor replaced with handlers of its own are back to ignored (exec resets the
            # other handlers to the default, as for any program), and the signal mask
            for sig in ignored:
                signal.signal(sig, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

        env = dict(os.environ if self.env is None else self.env)
        if self.receiver is not None:
            env.update(self.receiver.env())
        proc = subprocess.Popen(self.argv, env=env, close_fds=False, preexec_fn=child_setup)
        try:
            os.setpgid(proc.pid, proc.pid)  # also from here, as shells do: no race on the group
        except OSError:
            pass
        self._foreground(proc.pid)
        return proc

    def _start_sentinel(self, pgid: int) -> None:
        """On a terminal, Ctrl-C goes to the script's (foreground) group, never to mpdoctor.
        A tiny process of mpdoctor's joins that group and reports every SIGINT through a pipe,
        so that a second Ctrl-C can stop a script that ignores the first."""
        r, w = os.pipe2(os.O_CLOEXEC)

        def setup() -> None:
            os.setpgid(0, pgid)
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            # blocked from the start (the mask survives exec): a Ctrl-C while the sentinel's
            # interpreter starts stays pending for its sigwait instead of killing it
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

        try:
            self._sentinel = subprocess.Popen(
                [sys.executable, "-S", "-c", SENTINEL, str(w)], pass_fds=(w,),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=setup)
            self._sentinel_r = r
        except OSError:
            os.close(r)
        finally:
            os.close(w)

    def _stop_sentinel(self) -> None:
        if self._sentinel is not None:
            self._sentinel.kill()
            self._sentinel.wait()
            self._sentinel = None
        if self._sentinel_r >= 0:
            os.close(self._sentinel_r)
            self._sentinel_r = -1

    def _foreground(self, pgid: int) -> None:
        """On an interactive terminal, hand the foreground to the script's group."""
        for fd in (0, 1, 2):
            try:
                if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
                    break
            except OSError:
                continue
        else:
            return
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(fd, pgid)
            self._tty_fd = fd
        except OSError:
            pass
        finally:
            signal.signal(signal.SIGTTOU, old)
        if self._tty_fd is not None:
            self._start_sentinel(pgid)

    def _take_back_terminal(self) -> None:
        if self._tty_fd is None:
            return
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(self._tty_fd, os.getpgrp())
        except OSError:
            pass
        finally:
            signal.signal(signal.SIGTTOU, old)
            self._tty_fd = None

    # -- the tree ------------------------------------------------------------------------------
    def _helpers(self) -> Set[int]:
        """mpdoctor's own children that are not the script's: py-spy, the interrupt sentinel."""
        out = set(self._dumper.helpers) if self._dumper is not None else set()
        if self._sentinel is not None:
            out.add(self._sentinel.pid)
        return out

    def _tops(self) -> List[int]:
        helpers = self._helpers()
        return [p for p in procfs.own_children() if p not in helpers]

    def _reap(self) -> None:
        for pid in self._tops():
            try:
                got, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if got == pid and pid == self.root_pid:
                self._status = os.waitstatus_to_exitcode(status)

    def stop_tree(self) -> int:
        """SIGKILL every process of the tree until none is left; returns how many were hit.

        Each round kills what is alive, then reaps: children of killed processes are
        re-parented to mpdoctor (the subreaper) and are found in the next round.
        multiprocessing's resource trackers go last: once everything else is gone they see end
        of file, unlink the semaphores and shared memory the dead processes left behind (as
        they would after any crash), and exit; only a tracker that does not is killed."""
        from mpdoctor.observe.snapshot import RESOURCE_TRACKER_MARK
        from mpdoctor.observe.tree import TreeReader

        reader = TreeReader(self._tops)
        hit: Set[int] = {p for p in reader.read().pids
                         if (procfs.stat(p) or _ZOMBIE).state not in ("Z", "X")}
        trackers = {p for p in hit if RESOURCE_TRACKER_MARK in " ".join(procfs.cmdline(p))}
        for pid in hit - trackers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 10.0
        trackers_until = None
        while True:
            self._reap()
            pids = reader.read().pids
            alive = [p for p in pids if (procfs.stat(p) or _ZOMBIE).state not in ("Z", "X")]
            if not pids or time.monotonic() > deadline:
                break
            spare = trackers
            if set(alive) <= trackers and trackers_until is None:
                trackers_until = time.monotonic() + TRACKER_GRACE  # the rest is gone
            if trackers_until is not None and time.monotonic() > trackers_until:
                spare = set()
            for pid in alive:
                if pid in spare:
                    continue
                try:
                    os.kill(pid, signal.SIGKILL)
                    hit.add(pid)
                except OSError:
                    pass
            time.sleep(0.005)
        return len(hit)

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> Outcome:
        if not _prctl(PR_SET_CHILD_SUBREAPER, 1):
            self.notes.append("could not become a child subreaper: processes that detach "
                              "(double fork, setsid) may escape the watch")
        # pipes and sockets mpdoctor itself holds (its stdio, inherited fds) lead outside
        outside = {procfs.channel_inode(t) for t in (procfs.fds(os.getpid()) or {}).values()}
        outside.discard(None)
        self._install_signals()
        started_at = time.time()
        t0 = time.monotonic()
        try:
            proc = self._spawn()
        except BaseException:
            self._restore_signals()
            self._close_receiver()
            raise
        self.root_pid = proc.pid
        log(f"new process: {os.getpid()} -> {proc.pid} {' '.join(self.argv)}")
        try:
            outcome = self._watch(proc, outside, t0)  # type: ignore[arg-type]
        except BaseException:
            self.stop_tree()  # whatever went wrong in mpdoctor, the script's tree goes too
            self._close_receiver()
            raise
        finally:
            log("verdict reached; restoring the terminal and signals")
            had_terminal = self._tty_fd is not None
            self._stop_sentinel()
            self._take_back_terminal()
            self._restore_signals(had_terminal)
            log("restored")
        outcome.started_at = started_at
        outcome.notes = self.notes + outcome.notes
        if self.receiver is not None:
            outcome.events = self.receiver.close()
            counts = outcome.event_counts = self.receiver.counts()
            log(f"{len(outcome.events)} events from the hooks: {counts}")
            if counts.lost and (outcome.verdict in ("deadlock", "timeout") or outcome.events):
                outcome.notes.append(f"{counts.lost} events from the hooks were lost "
                                     "(the report may miss a put site or a pickling error)")
            ignored = event_channel.note(counts)
            if ignored:
                outcome.notes.append(ignored)
        proc.returncode = outcome.status if outcome.status is not None else -9
        return outcome

    def _close_receiver(self) -> None:
        """On the way out after a failure: the event socket and its directory go too."""
        if self.receiver is not None:
            try:
                self.receiver.close()
            except Exception as exc:  # noqa: BLE001 - the failure being raised matters more
                log(f"closing the event receiver: {exc!r}")

    def _watchdog(self, outside: Set[int]) -> "Watchdog":
        """The watch machinery, loaded at the first poll: a script that ends within the first
        interval never pays for loading it."""
        from mpdoctor.observe.snapshot import Snapshotter
        from mpdoctor.observe.tree import TreeReader
        from mpdoctor.run.watch import Watchdog

        reader = TreeReader(self._tops)
        events = self.receiver.snapshot if self.receiver is not None else None
        return Watchdog(self.root_pid, reader, Snapshotter(self.root_pid, reader, outside,
                                                           events=events))

    def _watch(self, proc: subprocess.Popen, outside: Set[int], t0: float) -> Outcome:
        dog: Optional["Watchdog"] = None
        deadline = t0 + self.timeout if self.timeout is not None else None
        term_deadline: Optional[float] = None
        terminated_by: Optional[int] = None  # the signal that told mpdoctor to stop
        interrupts = 0
        while True:
            timeout = dog.interval if dog is not None else FIRST_POLL
            if deadline is not None:
                timeout = max(0.0, min(timeout, deadline - time.monotonic()))
            watched = [self._wake_r] + ([self._sentinel_r] if self._sentinel_r >= 0 else [])
            try:
                ready, _, _ = select.select(watched, [], [], timeout)
            except InterruptedError:
                ready = [self._wake_r]
            if self._sentinel_r in ready:
                # Ctrl-C on the terminal: the script's group already got it
                got = os.read(self._sentinel_r, 64)
                interrupts += len(got)
                log(f"Ctrl-C on the terminal ({interrupts} so far)")
                if not got:
                    os.close(self._sentinel_r)
                    self._sentinel_r = -1
            if self._wake_r in ready:
                for signum in self._drain_wakeups():
                    if signum == signal.SIGCHLD:
                        continue
                    if signum == signal.SIGINT:
                        interrupts += 1
                    self._forward(signum)
                    if signum in (signal.SIGTERM, signal.SIGHUP) and term_deadline is None:
                        term_deadline = time.monotonic() + TERM_GRACE
                        terminated_by = signum
            self._reap()
            if interrupts >= 2 and self._status is None:
                # a second Ctrl-C: the user wants out now
                log("second interrupt: stopping the tree")
                stopped = self.stop_tree()
                log(f"stopped {stopped} processes")
                self._reap()
                return Outcome("failed", -signal.SIGINT, duration=time.monotonic() - t0,
                               stopped=stopped, notes=["interrupted twice: mpdoctor stopped "
                                                       "the script's tree"])
            if self._status is not None:
                left = self._linger()
                stopped = self.stop_tree() if left else 0
                notes = []
                if stopped:
                    notes.append(f"{stopped} processes of the script were still running "
                                 f"{LINGER:g} s after it ended ({left}); mpdoctor stopped them")
                verdict = "ok" if self._status == 0 else "failed"
                return Outcome(verdict, self._status, duration=time.monotonic() - t0,
                               notes=notes, stopped=stopped)
            now = time.monotonic()
            if term_deadline is not None and now >= term_deadline:
                stopped = self.stop_tree()
                self._reap()
                # reported as a death by the signal mpdoctor itself received
                status = -(terminated_by or signal.SIGTERM)
                return Outcome("failed", status, duration=now - t0, stopped=stopped,
                               notes=[f"the script did not end within {TERM_GRACE:g} s of the "
                                      f"forwarded {signal.Signals(-status).name}; mpdoctor "
                                      "stopped its tree"])
            if dog is None:
                dog = self._watchdog(outside)
            proven = dog.poll()
            if proven is not None:
                return self._conclude("deadlock", proven, t0)
            if deadline is not None and time.monotonic() >= deadline:
                return self._conclude("timeout", dog.snapshot_now(), t0)

    def _linger(self) -> str:
        """Let the processes the script left behind end by themselves; describe any that don't."""
        self._reap()
        if not self._tops():
            # every descendant of a dead process is re-parented to mpdoctor (the subreaper):
            # with no child left, nothing of the tree is left
            return ""
        from mpdoctor.observe.tree import TreeReader

        reader = TreeReader(self._tops)
        deadline = time.monotonic() + LINGER
        while True:
            self._reap()
            alive = [p for p in reader.read().pids
                     if (procfs.stat(p) or _ZOMBIE).state not in ("Z", "X")]
            if not alive:
                return ""
            if time.monotonic() >= deadline:
                return ", ".join(f"{p}: {' '.join(procfs.cmdline(p))[:60]}" for p in alive[:5])
            select.select([self._wake_r], [], [], 0.01)
            self._drain_wakeups()

    def _conclude(self, verdict: str, snapshot: Snapshot, t0: float) -> Outcome:
        from mpdoctor.run.watch import explain

        at = time.monotonic()
        if self.receiver is not None:
            snapshot = dataclasses.replace(snapshot, hooks=True,
                                           events=tuple(self.receiver.snapshot()))
        snapshot, diagnosis = explain(snapshot, self.dumper)
        if verdict == "timeout" and diagnosis.deadlock:
            verdict = "deadlock"
        proof = time.monotonic() - at
        stopped = self.stop_tree()
        return Outcome(verdict, self._status, diagnosis=diagnosis, snapshot=snapshot,
                       duration=at - t0, proof_seconds=proof, stopped=stopped)

    def _drain_wakeups(self) -> List[int]:
        out: List[int] = []
        while True:
            try:
                data = os.read(self._wake_r, 512)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                break
            out.extend(data)
        return out

    def _forward(self, signum: int) -> None:
        """Pass a signal mpdoctor received on to the script's process group.  (On a terminal,
        Ctrl-C goes straight to the script's foreground group and never reaches mpdoctor.)"""
        try:
            os.killpg(self.root_pid, signum)
        except OSError:
            pass

