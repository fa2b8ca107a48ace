"""The janitor: a small process between mpdoctor and the script that stops the whole tree when
mpdoctor dies, even by SIGKILL.

mpdoctor forks it first thing, while it has no other thread.  The janitor

* is the tree's child subreaper (``PR_SET_CHILD_SUBREAPER``): every process of the tree that is
  orphaned (a double fork, ``setsid``) is re-parented to it, never to pid 1, so the tree stays
  in reach;
* starts the script when mpdoctor asks (fork, then exec, with the script's own process group,
  ``PR_SET_PDEATHSIG``, and the signal dispositions and mask plain python would inherit), tells
  mpdoctor its pid, reaps everything that ends below it, and tells mpdoctor the script's exit
  status;
* holds the read end of a pipe whose only writer is mpdoctor: when mpdoctor ends, however it
  ends, the kernel closes that pipe, and the janitor kills every process still below it, then
  exits.  That is the guarantee: it needs no cooperation from mpdoctor.

It sits in a process group of its own (in mpdoctor's session, so that the script keeps the
terminal), so that a signal for mpdoctor's group does not reach it, and it ignores the signals
a terminal or a user sends to stop a job.  What remains possible: killing the janitor itself
(by its pid) together with mpdoctor leaves the processes that were already orphaned with no
one to stop them (the script itself still dies: its parent-death signal).

The script to start is given to the janitor when it is forked (it starts it at once: no
message to wait for), or later as a message.  Messages are tuples, sent as ``marshal`` frames
(4-byte length, then the data; ``marshal`` is built in, so the janitor costs no import before
the script starts): mpdoctor -> janitor ``("spawn", argv, env)``; janitor -> mpdoctor
``("pid", N)``, ``("error", errno, text)`` (the exec failed), ``("exit", status)`` (as
``os.waitstatus_to_exitcode``).
"""

from __future__ import annotations

import marshal
import os
import select
import _signal  # signal's built-in core: no enums to build before the script starts

from mpdoctor.run import prctl

TYPE_CHECKING = False
if TYPE_CHECKING:  # (no typing at run time: the janitor starts before the script does)
    from typing import Dict, List, Optional, Sequence, Set, Tuple

#: the signals a terminal or a user sends to stop a job: the janitor outlives them
SHIELDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGTSTP,
            _signal.SIGTTIN, _signal.SIGTTOU, _signal.SIGUSR1, _signal.SIGUSR2)
#: subprocess's ``restore_signals``: what Python itself ignores goes back to the default
RESTORED = tuple(getattr(_signal, name) for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ")
                 if hasattr(_signal, name))


class Janitor:
    """mpdoctor's handle on the janitor process."""

    def __init__(self, ignored: Set[int], mask: Set[int],
                 argv: Optional[Sequence[str]] = None,
                 env: Optional[Dict[str, str]] = None) -> None:
        """Fork the janitor; with ``argv``, it starts the script at once (no message to wait
        for: see :meth:`started`)."""
        to_r, self._to_w = os.pipe2(os.O_CLOEXEC)
        self._from_r, from_w = os.pipe2(os.O_CLOEXEC)
        order = None if argv is None else (list(argv), dict(os.environ if env is None else env))
        pid = os.fork()
        if pid == 0:  # the janitor
            code = 1
            try:
                os.close(self._to_w)
                os.close(self._from_r)
                code = _main(to_r, from_w, ignored, mask, order)
            finally:
                os._exit(code)
        os.close(to_r)
        os.close(from_w)
        self.pid = pid
        self.notes: List[str] = []
        self._pending: List[tuple] = []
        self._buffer = b""
        self.exited: Optional[int] = None  # the script's exit status, once known

    @property
    def fd(self) -> int:
        """Readable when the janitor has something to say (for ``select``)."""
        return self._from_r

    def _send(self, message: tuple) -> None:
        _write_frame(self._to_w, message)

    def _lines(self, block: bool) -> List[tuple]:
        out: List[tuple] = []
        while True:
            message, self._buffer = _take_frame(self._buffer)
            if message is not None:
                out.append(message)
                continue
            if not block:
                r, _, _ = select.select([self._from_r], [], [], 0)
                if not r:
                    return out
            data = os.read(self._from_r, 65536)
            if not data:
                return out  # the janitor is gone
            self._buffer += data
            if block and _take_frame(self._buffer)[0] is not None:
                block = False

    def spawn(self, argv: Sequence[str], env: Dict[str, str]) -> int:
        """Start the script; its pid.  ``OSError`` when it cannot be executed."""
        self._send(("spawn", list(argv), dict(env)))
        return self.started()

    def started(self) -> int:
        """The script's pid, once it runs (the janitor was given it when forked, or by
        :meth:`spawn`).  ``OSError`` when it cannot be executed."""
        while True:
            messages = self._lines(block=True)
            if not messages:
                raise OSError(0, "the janitor process ended")
            for i, m in enumerate(messages):
                if m[0] == "note":
                    self.notes.append(str(m[1]))
                elif m[0] == "pid":
                    self._pending = messages[i + 1:]
                    return int(m[1])
                elif m[0] == "error":
                    raise OSError(int(m[1]), str(m[2]))

    def poll(self) -> Optional[int]:
        """The script's exit status once the janitor has reported it (never blocks)."""
        messages = self._pending + self._lines(block=False)
        self._pending = []
        for m in messages:
            if m[0] == "exit":
                self.exited = int(m[1])
        return self.exited

    def close(self, timeout: float = 5.0) -> None:
        """mpdoctor is done: the janitor stops what is left below it and exits (waited for
        at most ``timeout`` seconds: its end of the message pipe closes when it exits)."""
        import time
        try:
            os.close(self._to_w)
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                ready, _, _ = select.select([self._from_r], [], [], left)
                if ready and not os.read(self._from_r, 65536):
                    break  # end of file: the janitor has exited
            except InterruptedError:
                continue
            except OSError:
                break
        while True:
            try:
                got, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                break
            if got == self.pid or time.monotonic() > deadline:
                break
            time.sleep(0.001)  # (it has closed its pipe: it is a zombie in a moment)
        try:
            os.close(self._from_r)
        except OSError:
            pass


def _write_frame(fd: int, message: tuple) -> None:
    data = marshal.dumps(message)
    payload = len(data).to_bytes(4, "little") + data
    while payload:
        payload = payload[os.write(fd, payload):]


def _take_frame(buffer: bytes) -> Tuple[Optional[tuple], bytes]:
    """The first whole message in ``buffer`` (or None), and what is left after it."""
    if len(buffer) < 4:
        return None, buffer
    size = int.from_bytes(buffer[:4], "little")
    if len(buffer) < 4 + size:
        return None, buffer
    return marshal.loads(buffer[4:4 + size]), buffer[4 + size:]


# --------------------------------------------------------------------------------------------
# the janitor process itself


def _children(pid: int) -> List[int]:
    out: List[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
    return out


def _descendants(pid: int) -> List[int]:
    out: List[int] = []
    stack = [pid]
    seen = {pid}
    while stack:
        for kid in _children(stack.pop()):
            if kid not in seen:
                seen.add(kid)
                out.append(kid)
                stack.append(kid)
    return out


def _reap(root: int, report) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid == root:
            report(("exit", os.waitstatus_to_exitcode(status)))


def _stop_everything(me: int) -> None:
    """SIGKILL everything below the janitor until nothing is left (bounded)."""
    import time
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        below = _descendants(me)
        if not below:
            return
        for pid in below:
            try:
                os.kill(pid, _signal.SIGKILL)
            except OSError:
                pass
        _reap(-1, lambda m: None)
        time.sleep(0.005)


def _spawn(argv: List[str], env: Dict[str, str], ignored: Set[int], mask: Set[int]
           ) -> Tuple[Optional[int], Optional[Tuple[int, str]]]:
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # the script
        try:
            os.close(err_r)
            os.setpgid(0, 0)
            prctl.set_option(prctl.PR_SET_PDEATHSIG, _signal.SIGKILL)
            for sig in SHIELDED + RESTORED:
                _signal.signal(sig, _signal.SIG_IGN if sig in ignored else _signal.SIG_DFL)
            _signal.signal(_signal.SIGCHLD, _signal.SIG_IGN if _signal.SIGCHLD in ignored
                          else _signal.SIG_DFL)
            _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
            os.execve(argv[0], argv, env)
        except OSError as exc:
            os.write(err_w, marshal.dumps((exc.errno or 0, exc.strerror or str(exc))))
        except BaseException as exc:  # noqa: BLE001 - reported to mpdoctor, never raised
            os.write(err_w, marshal.dumps((0, f"{type(exc).__name__}: {exc}")))
        os._exit(127)
    os.close(err_w)
    try:
        os.setpgid(pid, pid)  # also from here, as shells do: no race on the group
    except OSError:
        pass
    data = b""
    while True:
        chunk = os.read(err_r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(err_r)
    if data:
        os.waitpid(pid, 0)
        errno, text = marshal.loads(data)
        return None, (int(errno), str(text))
    return pid, None


def _main(to_r: int, from_w: int, ignored: Set[int], mask: Set[int],
          order: Optional[Tuple[List[str], Dict[str, str]]] = None) -> int:
    me = os.getpid()
    for sig in SHIELDED:
        _signal.signal(sig, _signal.SIG_IGN)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    _signal.set_wakeup_fd(-1)
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    subreaper = prctl.set_option(prctl.PR_SET_CHILD_SUBREAPER, 1)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _signal.set_wakeup_fd(wake_w)
    _signal.signal(_signal.SIGCHLD, lambda *a: None)  # interrupts the select below

    def report(message: tuple) -> None:
        try:
            _write_frame(from_w, message)
        except OSError:
            pass

    if not subreaper:
        report(("note", "the janitor could not become a child subreaper: processes that "
                        "detach (double fork, setsid) may escape the watch"))
    root = -1

    def spawn(argv: List[str], env: Dict[str, str]) -> int:
        pid, error = _spawn(argv, env, ignored, mask)
        if error is not None:
            report(("error", *error))
            return -1
        report(("pid", pid))
        _reap(pid, report)  # type: ignore[arg-type]
        return pid  # type: ignore[return-value]

    if order is not None:
        root = spawn(*order)
    buffer = b""
    while True:
        try:
            ready, _, _ = select.select([to_r, wake_r], [], [])
        except InterruptedError:
            ready = [wake_r]
        if wake_r in ready:
            try:
                os.read(wake_r, 512)
            except OSError:
                pass
            _reap(root, report)
        if to_r in ready:
            data = os.read(to_r, 1 << 20)
            if not data:
                break  # mpdoctor has ended, one way or another
            buffer += data
            while True:
                message, buffer = _take_frame(buffer)
                if message is None:
                    break
                if message[0] == "spawn" and root < 0:
                    root = spawn(message[1], message[2])
    _stop_everything(me)
    return 0
