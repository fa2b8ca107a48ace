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

import os
import select
import _signal  # signal's built-in core: no enums to build before the script starts
import sys
import time

from mpdoctor.debug import log
from mpdoctor.debug import on as debug_on
from mpdoctor.run.endpoint import Endpoint
from mpdoctor.run import prctl
from mpdoctor.run.janitor import Janitor

TYPE_CHECKING = False
if TYPE_CHECKING:  # the rest is imported once the script has been started (start-up time)
    import subprocess
    from typing import Dict, List, Optional, Set

    from mpdoctor.model import Snapshot
    from mpdoctor.observe.pyspy import Dumper
    from mpdoctor.observe.snapshot import Snapshotter
    from mpdoctor.outcome import Outcome, Verdict
    from mpdoctor.run.events import Receiver
    from mpdoctor.run.status import StatusLine
    from mpdoctor.run.watch import Watchdog


#: after the script exits, how long what it leaves behind (multiprocessing's resource tracker
#: finishing its cleanup, say) may take to end by itself before it is stopped
LINGER = 2.0

#: when the first poll comes (and the next ones, while the watch machinery is not loaded)
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


FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1,
             _signal.SIGUSR2)


class Supervisor:
    def __init__(self, argv: List[str], timeout: Optional[float] = None,
                 env: Optional[Dict[str, str]] = None,
                 dumper: Optional[Dumper] = None,
                 hooks: bool = True, status: bool = True) -> None:
        self.argv = argv
        #: a live status line on the terminal while watching (see run/status.py)
        self.want_status = status
        self.timeout = timeout
        self.env = env
        #: signals ignored when mpdoctor started; the script gets them ignored too
        self._ignored: Set[int] = {sig for sig in FORWARDED + (_signal.SIGCHLD,)
                                   if _signal.getsignal(sig) == _signal.SIG_IGN}
        #: the signal mask mpdoctor started with; the script gets it too
        self._mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, ())
        #: forked by run(), while mpdoctor has no other thread, with the order to start the
        #: script (see janitor.py)
        self.janitor: Janitor
        self._dumper = dumper
        self.notes: List[str] = []
        self._sentinel: Optional["subprocess.Popen"] = None
        self.receiver: Optional[Receiver] = None
        #: the event socket, bound before the script starts (its reader starts after)
        self.endpoint: Optional[Endpoint] = None
        if hooks:
            try:
                self.endpoint = Endpoint.bind()
            except OSError as err:
                self.notes.append(f"no hooks in the script's processes: mpdoctor could not "
                                  f"create its event socket ({err})")
        self.root_pid = 0
        self._status: Optional[int] = None
        self._wake_r = self._wake_w = -1
        self._old_handlers: Dict[int, object] = {}
        self._tty_fd: Optional[int] = None
        self._sentinel_r = -1
        self.status: Optional["StatusLine"] = None

    @property
    def dumper(self) -> "Dumper":
        if self._dumper is None:
            from mpdoctor.observe.pyspy import Dumper
            self._dumper = Dumper()
        return self._dumper

    # -- setup and teardown --------------------------------------------------------------------
    def _install_signals(self) -> None:
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(self._wake_w)

        def handler(signum, frame):  # noqa: ARG001 - the wakeup fd carries the signal number
            pass

        for sig in FORWARDED + (_signal.SIGCHLD,):
            if sig in self._ignored and sig != _signal.SIGCHLD:
                # ignored by whoever started mpdoctor (nohup, a background job): the script
                # inherits it ignored, as it would from a plain `python`; mpdoctor ignores it
                # too, so that it stops nothing either
                continue
            self._old_handlers[sig] = _signal.signal(sig, handler)

    def _restore_signals(self, had_terminal: bool = False) -> None:
        for sig, old in self._old_handlers.items():
            if sig == _signal.SIGINT and had_terminal:
                # the terminal is mpdoctor's again: a Ctrl-C still on its way (meant for the
                # script) must not cut the report short; mpdoctor exits right after it
                old = _signal.SIG_IGN
            _signal.signal(sig, old)  # type: ignore[arg-type]
        _signal.set_wakeup_fd(-1)
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)

    def _spawn(self) -> int:
        """Start the script (through the janitor); its pid."""
        env = dict(os.environ if self.env is None else self.env)
        if self.endpoint is not None:
            env.update(self.endpoint.env(debug_on("hooks")))
        self.janitor = Janitor(self._ignored, self._mask, self.argv, env)
        try:
            pid = self.janitor.started()
        except BaseException:
            self.janitor.close()
            raise
        self._foreground(pid)
        return pid

    def _start_sentinel(self, pgid: int) -> None:
        """On a terminal, Ctrl-C goes to the script's (foreground) group, never to mpdoctor.
        A tiny process of mpdoctor's joins that group and reports every SIGINT through a pipe,
        so that a second Ctrl-C can stop a script that ignores the first."""
        r, w = os.pipe2(os.O_CLOEXEC)

        def setup() -> None:
            os.setpgid(0, pgid)
            prctl.set_option(prctl.PR_SET_PDEATHSIG, _signal.SIGKILL)
            # blocked from the start (the mask survives exec): a Ctrl-C while the sentinel's
            # interpreter starts stays pending for its sigwait instead of killing it
            _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})

        import subprocess
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
        old = _signal.signal(_signal.SIGTTOU, _signal.SIG_IGN)
        try:
            os.tcsetpgrp(fd, pgid)
            self._tty_fd = fd
        except OSError:
            pass
        finally:
            _signal.signal(_signal.SIGTTOU, old)
        if self._tty_fd is not None:
            self._start_sentinel(pgid)

    def _take_back_terminal(self) -> None:
        if self._tty_fd is None:
            return
        old = _signal.signal(_signal.SIGTTOU, _signal.SIG_IGN)
        try:
            os.tcsetpgrp(self._tty_fd, os.getpgrp())
        except OSError:
            pass
        finally:
            _signal.signal(_signal.SIGTTOU, old)
            self._tty_fd = None

    # -- the tree ------------------------------------------------------------------------------
    def _helpers(self) -> Set[int]:
        """mpdoctor's own children that are not the script's: py-spy, the interrupt sentinel."""
        out = set(self._dumper.helpers) if self._dumper is not None else set()
        if self._sentinel is not None:
            out.add(self._sentinel.pid)
        return out

    def _tops(self) -> List[int]:
        """The top of the tree: the janitor's children (the script, and every orphan of the
        tree, re-parented to the janitor), and any of mpdoctor's own children that are not its
        helpers (should the janitor die, orphans come to mpdoctor, a subreaper too)."""
        from mpdoctor.observe import procfs

        helpers = self._helpers()
        mine = [p for p in procfs.own_children() if p not in helpers and p != self.janitor.pid]
        below = []
        for tid in procfs.tasks(self.janitor.pid):
            below.extend(procfs.children(self.janitor.pid, tid) or [])
        return below + mine

    def _reap(self) -> None:
        from mpdoctor.observe import procfs

        if self._status is None:
            self._status = self.janitor.poll()
        me = os.getpid()
        for pid in procfs.own_children():
            # orphans that came to mpdoctor rather than the janitor, once they have ended
            if pid == self.janitor.pid or (self._sentinel is not None
                                           and pid == self._sentinel.pid):
                continue
            st = procfs.stat(pid)
            if st is not None and st.state in ("Z", "X") and st.ppid == me:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass

    def stop_tree(self) -> int:
        """SIGKILL every process of the tree until none is left; returns how many were hit.

        Each round kills what is alive, then reaps: children of killed processes are
        re-parented to mpdoctor (the subreaper) and are found in the next round.
        multiprocessing's resource trackers go last: once everything else is gone they see end
        of file, unlink the semaphores and shared memory the dead processes left behind (as
        they would after any crash), and exit; only a tracker that does not is killed."""
        from mpdoctor.observe import procfs
        from mpdoctor.observe.snapshot import RESOURCE_TRACKER_MARK
        from mpdoctor.observe.tree import TreeReader
        from mpdoctor.run import stopping

        reader = TreeReader(self._tops)

        def alive_now() -> Dict[int, int]:
            """{pid: start time} of the live processes of the tree."""
            out = {}
            for pid in reader.read().pids:
                st = procfs.stat(pid)
                if st is not None and st.state not in ("Z", "X"):
                    out[pid] = st.starttime
            return out

        first = alive_now()
        trackers = {p for p in first if RESOURCE_TRACKER_MARK in " ".join(procfs.cmdline(p))}
        hit: Set[int] = set(first)
        deadline = time.monotonic() + 10.0
        trackers_until = None
        current = first
        while current and time.monotonic() <= deadline:
            spare = trackers
            if set(current) <= trackers and trackers_until is None:
                trackers_until = time.monotonic() + TRACKER_GRACE  # the rest is gone
            if trackers_until is not None and time.monotonic() > trackers_until:
                spare = set()
            # by pid and start time: a pid reused meanwhile is never signalled (stopping.py)
            targets = [(pid, start) for pid, start in current.items() if pid not in spare]
            hit.update(stopping.stop(targets, grace=0, kill_after=0.05))
            self._reap()
            current = alive_now()
            if set(current) <= spare:
                time.sleep(0.005)  # only trackers left, finishing their cleanup
        return len(hit)

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> "Outcome":
        self._install_signals()
        started_at = time.time()
        t0 = time.monotonic()
        try:
            pid = self._spawn()
        except BaseException:
            self._restore_signals()
            if self.endpoint is not None:
                self.endpoint.close()
            raise
        self.root_pid = pid
        log("run", f"new process: {os.getpid()} -> {self.janitor.pid} -> {pid} "
                   f"{' '.join(self.argv)}")
        try:
            # the script runs: what the watch needs is loaded meanwhile
            outside, oom_before = self._started()
            outcome = self._watch(outside, t0)
        except BaseException:
            self.stop_tree()  # whatever went wrong in mpdoctor, the script's tree goes too
            self._close_receiver()
            raise
        finally:
            if self.status is not None:
                self.status.close()  # before anything of mpdoctor's is printed
            self.janitor.close()
            log("run", "verdict reached; restoring the terminal and signals")
            had_terminal = self._tty_fd is not None
            self._stop_sentinel()
            self._take_back_terminal()
            self._restore_signals(had_terminal)
            log("run", "restored")
        from mpdoctor.observe import oom

        outcome.started_at = started_at
        outcome.notes = self.notes + outcome.notes
        if outcome.diagnosis is not None:  # (a deadlock's dead worker: SIGKILL by whom?)
            import dataclasses

            from mpdoctor.diagnose.crashes import needs_oom, with_oom
            if needs_oom(outcome.diagnosis.findings):
                outcome.diagnosis = dataclasses.replace(outcome.diagnosis, findings=tuple(
                    with_oom(outcome.diagnosis.findings, oom.facts(oom_before, os.getpid()))))
        if self.receiver is None and self.endpoint is not None:
            self.endpoint.close()  # (its reader could not be started)
        if self.receiver is not None:
            from mpdoctor.hooks import protocol
            from mpdoctor.run import events as event_channel

            self.receiver.close()
            counts = outcome.event_counts = self.receiver.counts()
            log("run", f"events from the hooks: {counts}")
            failed = outcome.verdict.value == "failed"
            # the events that can make a finding in a run that ended by itself, and, when the
            # script failed, those that tell what failed first in the tree
            wanted = {protocol.PICKLE_ERROR, protocol.MAIN_GUARD, protocol.UNPICKLE_ERROR}
            if failed:
                wanted |= {protocol.UNCAUGHT, protocol.CHILD_EXIT}
            if outcome.diagnosis is not None or self.receiver.kinds() & wanted:
                # (most runs only said hello: then neither the events nor the diagnosis
                # machinery are even loaded)
                outcome.events = self.receiver.snapshot()
            if outcome.diagnosis is None and outcome.events:
                from mpdoctor.run import engine
                outcome.diagnosis = engine.events_only(
                    outcome.events, failed=failed,
                    oom=lambda: oom.facts(oom_before, os.getpid()))
            if counts.lost and (outcome.verdict in ("deadlock", "timeout") or outcome.events):
                outcome.notes.append(f"{counts.lost} events from the hooks were lost "
                                     "(the report may miss a put site or a pickling error)")
            # (a clean run says nothing about its own processes' late events: they are
            # counted in the JSON report)
            ignored = event_channel.note(counts, gone=outcome.verdict.value != "ok")
            if ignored:
                outcome.notes.append(ignored)
        return outcome

    def _started(self) -> "tuple[Set[int], Optional[tuple[str, int]]]":
        """Once the script runs: the rest of the watch's set-up.  Returns the pipes and sockets
        that lead outside the tree, and the OOM kills counted so far."""
        from mpdoctor.observe import oom, procfs
        from mpdoctor.run.events import Receiver
        from mpdoctor.run.members import Membership

        if not prctl.set_option(prctl.PR_SET_CHILD_SUBREAPER, 1):
            self.notes.append("could not become a child subreaper: processes that detach "
                              "(double fork, setsid) may escape the watch")
        self.notes.extend(self.janitor.notes)
        if self.endpoint is not None:
            # heard: the processes below mpdoctor (the script's tree and the orphans it
            # inherits as subreaper), except mpdoctor's own helpers
            members = Membership(os.getpid(), include_anchor=False, exclude=self._helpers)
            try:
                self.receiver = Receiver(members, debug=debug_on("hooks"),
                                         endpoint=self.endpoint)
            except OSError as err:
                self.notes.append(f"no events from the hooks: mpdoctor could not read its "
                                  f"event socket ({err})")
        # pipes and sockets mpdoctor itself holds (its stdio, inherited fds) lead outside
        outside = {inode for inode in (procfs.channel_inode(t) for t in
                                       (procfs.fds(os.getpid()) or {}).values())
                   if inode is not None}
        # the OOM kills the script's memory cgroup has counted so far: tells later whether a
        # worker's SIGKILL came from the OOM killer
        return outside, oom.counter(os.getpid())

    def _close_receiver(self) -> None:
        """On the way out after a failure: the event socket and its directory go too."""
        if self.receiver is None and self.endpoint is not None:
            self.endpoint.close()
        if self.receiver is not None:
            try:
                self.receiver.close()
            except Exception as exc:  # noqa: BLE001 - the failure being raised matters more
                log("run", f"closing the event receiver: {exc!r}")

    def _watchdog(self, outside: Set[int]) -> "Watchdog":
        """The watch machinery, loaded at the first poll that finds the script's main thread
        waiting: a script that ends within the first interval, or whose main thread keeps
        running, never pays for loading it; the snapshot's and the verdict's path (py-spy's
        driver, the rules) come with the first full reading, in the interval before the next:
        the next reading may prove the hang, and its verdict does not wait for them."""
        from mpdoctor.observe.tree import TreeReader
        from mpdoctor.run.watch import Watchdog

        reader = TreeReader(self._tops)
        events = self.receiver.snapshot if self.receiver is not None else None
        locks = self.receiver.held_locks if self.receiver is not None else None

        def snapshotter() -> "Snapshotter":
            from mpdoctor.diagnose import registry
            from mpdoctor.observe.snapshot import Snapshotter
            from mpdoctor.run import engine  # noqa: F401 - the verdict's path, loaded ahead of it

            registry.load()
            return Snapshotter(self.root_pid, reader, outside, events=events, locks=locks)

        return Watchdog(self.root_pid, reader, snapshotter)

    def _watch(self, outside: Set[int], t0: float) -> "Outcome":
        from mpdoctor.outcome import Outcome, Verdict  # (light: the rest of the model is not)

        dog: Optional["Watchdog"] = None
        # While the script's main thread is seen running (computing, not in a system call),
        # no proof can be attempted (see watch.py) and the watch machinery is not loaded: a
        # script whose main thread keeps working never pays for loading it.  The first poll
        # that finds it in a system call loads it, as early as any proof could need it.  On a
        # terminal, the status line needs it at once.
        deadline = t0 + self.timeout if self.timeout is not None else None
        term_deadline: Optional[float] = None
        terminated_by: Optional[int] = None  # the signal that told mpdoctor to stop
        interrupts = 0
        while True:
            timeout = max(0.0, dog.due - time.monotonic()) if dog is not None else FIRST_POLL
            if deadline is not None:
                timeout = max(0.0, min(timeout, deadline - time.monotonic()))
            watched = [self._wake_r, self.janitor.fd] + (
                [self._sentinel_r] if self._sentinel_r >= 0 else [])
            try:
                ready, _, _ = select.select(watched, [], [], timeout)
            except InterruptedError:
                ready = [self._wake_r]
            if self._sentinel_r in ready:
                # Ctrl-C on the terminal: the script's group already got it
                got = os.read(self._sentinel_r, 64)
                interrupts += len(got)
                log("run", f"Ctrl-C on the terminal ({interrupts} so far)")
                if not got:
                    os.close(self._sentinel_r)
                    self._sentinel_r = -1
            if self._wake_r in ready:
                for signum in self._drain_wakeups():
                    if signum == _signal.SIGCHLD:
                        continue
                    if signum == _signal.SIGINT:
                        interrupts += 1
                    self._forward(signum)
                    if signum in (_signal.SIGTERM, _signal.SIGHUP) and term_deadline is None:
                        term_deadline = time.monotonic() + TERM_GRACE
                        terminated_by = signum
            self._reap()
            if interrupts >= 2 and self._status is None:
                # a second Ctrl-C: the user wants out now
                log("run", "second interrupt: stopping the tree")
                stopped = self.stop_tree()
                log("run", f"stopped {stopped} processes")
                self._reap()
                return Outcome(Verdict.FAILED, -_signal.SIGINT, duration=time.monotonic() - t0,
                               stopped=stopped, notes=["interrupted twice: mpdoctor stopped "
                                                       "the script's tree"])
            if self._status is not None:
                left = self._linger()
                stopped = self.stop_tree() if left else 0
                notes = []
                if stopped:
                    notes.append(f"{stopped} processes of the script were still running "
                                 f"{LINGER:g} s after it ended ({left}); mpdoctor stopped them")
                return Outcome(Verdict.ended(self._status), self._status,
                               duration=time.monotonic() - t0,
                               notes=notes, stopped=stopped)
            now = time.monotonic()
            if term_deadline is not None and now >= term_deadline:
                stopped = self.stop_tree()
                self._reap()
                # reported as a death by the signal mpdoctor itself received
                import signal
                status = -(terminated_by or _signal.SIGTERM)
                return Outcome(Verdict.FAILED, status, duration=now - t0, stopped=stopped,
                               notes=[f"the script did not end within {TERM_GRACE:g} s of the "
                                      f"forwarded {signal.Signals(-status).name}; mpdoctor "
                                      "stopped its tree"])
            if dog is None:
                from mpdoctor.observe import procfs
                timed_out = deadline is not None and time.monotonic() >= deadline
                if not timed_out and (not self.want_status or not os.isatty(2)):
                    line = procfs.syscall_line(self.root_pid, self.root_pid)
                    if line is not None and line.split(" ", 1)[0].strip() == "running":
                        continue
                dog = self._watchdog(outside)
                if self.want_status:
                    from mpdoctor.run.status import StatusLine
                    self.status = StatusLine()
            proven = dog.poll()
            if self.status is not None and self.status.enabled:
                self._show_status(dog, t0)
            if proven is not None:
                outcome = self._conclude(None, proven, t0)
                if outcome is not None:
                    return outcome
            if deadline is not None and time.monotonic() >= deadline:
                outcome = self._conclude(Verdict.TIMEOUT, dog.snapshot_now(), t0)
                assert outcome is not None  # (a timeout always concludes)
                return outcome

    def _linger(self) -> str:
        """Let the processes the script left behind end by themselves; describe any that don't."""
        from mpdoctor.observe import procfs

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
                     if getattr(procfs.stat(p), "state", "Z") not in ("Z", "X")]
            if not alive:
                return ""
            if time.monotonic() >= deadline:
                return ", ".join(f"{p}: {' '.join(procfs.cmdline(p))[:60]}" for p in alive[:5])
            select.select([self._wake_r], [], [], 0.01)
            self._drain_wakeups()

    def _conclude(self, unproven: Optional["Verdict"], snapshot: "Snapshot",
                  t0: float) -> Optional["Outcome"]:
        """The verdict on a snapshot (``unproven``: what it is when no deadlock is proven;
        None: then there is none yet, and the watch goes on); the tree is stopped on one."""
        at = time.monotonic()
        if self.receiver is not None:
            import dataclasses
            snapshot = dataclasses.replace(snapshot, hooks=True,
                                           events=tuple(self.receiver.snapshot()),
                                           locks=tuple(self.receiver.held_locks()))
        from mpdoctor.model import Outcome
        from mpdoctor.run import engine

        snapshot, diagnosis, verdict = engine.conclude(snapshot, self.dumper, unproven)
        if verdict is None:
            return None
        proof = time.monotonic() - at
        stopped = self.stop_tree()
        return Outcome(verdict, self._status, diagnosis=diagnosis, snapshot=snapshot,
                       duration=at - t0, proof_seconds=proof, stopped=stopped)

    def _show_status(self, dog: "Watchdog", t0: float) -> None:
        from mpdoctor.observe import procfs, syscalls
        from mpdoctor.run import status

        reading = dog.last if dog.prev is not None else None
        if reading is not None:
            processes, threads = len(reading.tids), len(reading.threads)
        else:  # the main thread runs: count without reading what each thread does
            seen, stack, threads = set(), list(self._tops()), 0
            while stack:
                pid = stack.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                tids = procfs.tasks(pid)
                threads += len(tids)
                for tid in tids:
                    stack.extend(procfs.children(pid, tid) or [])
            processes = len(seen)
        line = procfs.syscall_line(self.root_pid, self.root_pid)
        wait = syscalls.decode(line, dog.reader.arch).describe() if line else None
        assert self.status is not None
        self.status.update(status.describe(time.monotonic() - t0, processes, threads, wait))

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

