"""One-line, human descriptions of what a thread waits for, from kernel facts and its stack."""

from __future__ import annotations

from typing import List, Optional, Sequence

from mpdoctor.diagnose import stacks
from mpdoctor.diagnose.waitfor import pipe_of
from mpdoctor.model import Pipe, Process, Role, Snapshot, Thread, WaitKind


def count(k: int, word: str, many: str = "") -> str:
    """``1 process``, ``2 processes``: the number and the word, singular or plural."""
    return f"{k} {word if k == 1 else many or word + ('es' if word.endswith('s') else 's')}"


def n(x: Optional[int]) -> str:
    return "?" if x is None else f"{x:,}"


#: how many items a list in a finding's text names before it says "and N more"
LISTED = 8


def listing(items: Sequence[str], limit: int = LISTED) -> str:
    """``a, b, c`` -- or ``a, b, c and 297 more`` for a long list (the full list is in the
    finding's data)."""
    items = list(items)
    if len(items) > limit:
        return f"{', '.join(items[:limit - 1])} and {len(items) - limit + 1} more"
    return ", ".join(items)


def fill(pipe: Optional[Pipe]) -> str:
    if pipe is None or pipe.pending is None:
        return ""
    if pipe.capacity:
        return f"{n(pipe.pending)} of {n(pipe.capacity)} bytes full"
    return f"{n(pipe.pending)} bytes pending"


def who(snapshot: Snapshot, pid: int) -> str:
    """``main process 100`` / ``child 101`` / ``forkserver 102``."""
    p = snapshot.by_pid.get(pid)
    if p is None:
        return f"pid {pid}"
    label = {Role.MAIN: "main process", Role.CHILD: "child", Role.FORKSERVER: "forkserver",
             Role.RESOURCE_TRACKER: "resource tracker"}[p.role]
    return f"{label} {pid}"


def exit_text(status: Optional[int]) -> str:
    if status is None:
        return "exited"
    if status < 0:
        import signal
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"was killed by {name}"
    return f"exited with status {status}"


def dead_children(snapshot: Snapshot, pid: int) -> List[str]:
    """``child 12 exited with status 1 (not yet joined)`` for each zombie child of ``pid``."""
    return [f"{who(snapshot, c.pid)} {exit_text(c.exit_status)} (not yet joined)"
            for c in snapshot.children_of(pid) if c.state == "Z"]


def thread_label(proc: Process, thread: Thread) -> str:
    # a forked child's only thread keeps the Python name of the thread that forked it
    # ("Thread-1 (_handle_workers)" for a Pool's replacement worker): it is the main thread
    if thread.tid == proc.pid:
        return "main thread"
    return f"thread {thread.name or '?'} ({thread.tid})"


#: threads a pool or an executor runs for itself, in the parent: (file, functions, role).
#: They wait for the workers (results, exits) or for the user's calls, as their library
#: meant; what they wait on is the workers' doing, never a finding of theirs.
HOUSEKEEPERS = (
    ("concurrent/futures/process.py", ("_ExecutorManagerThread.run", "run",
                                       "_queue_management_worker"),
     "the ProcessPoolExecutor's manager thread, waiting for its workers' results and exits"),
    ("loky/process_executor.py", ("_ExecutorManagerThread.run", "run",
                                  "_queue_management_worker"),
     "loky's executor manager thread, waiting for its workers' results and exits"),
    ("multiprocessing/pool.py", ("_handle_results",),
     "the Pool's result-handler thread, waiting for its workers' results"),
    ("multiprocessing/pool.py", ("_handle_tasks",),
     "the Pool's task-handler thread, waiting for tasks to hand out"),
    ("multiprocessing/pool.py", ("_handle_workers",),
     "the Pool's worker-handler thread, waiting for a worker to exit"),
)


def housekeeper(thread: Thread) -> str:
    """The role of a pool's or an executor's own thread ("" for any other thread)."""
    for path, names, role in HOUSEKEEPERS:
        if stacks.in_function(thread, path, list(names)):
            return role
    return ""


def library_action(thread: Thread) -> str:
    """What well-known multiprocessing code the thread is in, if any."""
    role = housekeeper(thread)
    if role:
        return role
    if stacks.in_function(thread, "multiprocessing/queues.py", ["_finalize_join"]):
        return "waits for its queue feeder thread to flush (Queue._finalize_join)"
    feed = stacks.in_function(thread, "multiprocessing/queues.py", ["_feed"])
    if feed:
        if stacks.in_function(thread, "multiprocessing/connection.py", ["_send", "_send_bytes"]):
            return "queue feeder thread writing a pickled item into the queue's pipe"
        return "queue feeder thread waiting for the queue's write lock"
    if stacks.in_function(thread, "threading.py", ["join"]):
        return "joins a thread (Thread.join)"
    if stacks.in_function(thread, "multiprocessing/process.py", ["join"]):
        return "joins a process (Process.join)"
    if stacks.in_function(thread, "multiprocessing/queues.py", ["get"]):
        return "waits in Queue.get()"
    if stacks.in_function(thread, "multiprocessing/queues.py", ["put"]):
        return "waits in Queue.put()"
    return ""


#: kernel functions a thread sleeps in while open() of a FIFO waits for the other end
FIFO_WCHANS = ("wait_for_partner", "fifo_open")


def wait_text(snapshot: Snapshot, proc: Process, thread: Thread) -> str:
    """What the kernel says the thread waits for."""
    w = thread.wait
    if w.kind is WaitKind.CHILD:
        if w.pid and w.pid > 0:
            return f"waits for {who(snapshot, w.pid)} to exit ({w.syscall})"
        return f"waits for any child to exit ({w.syscall})"
    if w.kind is WaitKind.WRITE:
        pipe = pipe_of(snapshot, w.target)
        level = fill(pipe)
        size = f"{n(w.count)} bytes" if w.count is not None else "data"
        return (f"writes {size} to {w.target or f'fd {w.fd}'}"
                + (f" ({level})" if level else "") + f" [fd {w.fd}]")
    if w.kind is WaitKind.READ:
        pipe = pipe_of(snapshot, w.target)
        state = " (empty)" if pipe is not None and pipe.pending == 0 else ""
        return f"reads from {w.target or f'fd {w.fd}'}{state} [fd {w.fd}]"
    if w.kind is WaitKind.POLL:
        parts = []
        for f in w.fds:
            pipe = pipe_of(snapshot, f.target)
            writers = {h.pid for h in pipe.writers} if pipe else set()
            if (f.want_read and writers and proc.role is not Role.FORKSERVER and all(
                    snapshot.by_pid[p].role is Role.FORKSERVER for p in writers
                    if p in snapshot.by_pid)):
                parts.append(f"a forkserver worker's exit ({f.target}, fd {f.fd})")
            else:
                direction = "input" if f.want_read else "space"
                parts.append(f"{direction} on {f.target or '?'} (fd {f.fd})")
        timeout = "" if w.indefinite else ", with a timeout"
        return f"polls for {', '.join(parts) or 'fds'} ({w.syscall}{timeout})"
    if w.kind is WaitKind.FUTEX:
        if w.private:
            scope = "a lock of its own process"
        else:
            mapping = snapshot.shared_by_key.get(w.shared_key)
            pids = listing([str(p) for p in mapping.mappers]) if mapping else "?"
            scope = f"a semaphore shared with processes {pids}"
        timeout = "" if w.indefinite else ", with a timeout"
        return f"waits on {scope} (futex{timeout})"
    if w.kind is WaitKind.SLEEP:
        return f"sleeps ({w.syscall})"
    if w.kind is WaitKind.RUNNING:
        return "is running"
    if thread.wchan in FIFO_WCHANS:
        return f"opens a FIFO and waits for its other end to be opened ({w.syscall})"
    if w.kind is WaitKind.ACCEPT:
        return f"waits for a connection on {w.target or f'fd {w.fd}'} ({w.syscall})"
    return f"{w.kind.value} ({w.syscall or 'not in a syscall'})"


def describe(snapshot: Snapshot, proc: Process, thread: Thread) -> str:
    """``child 101, thread QueueFeederThread (104): writes 40,030 bytes to pipe:[9] (...)``,
    followed by the user's line or the library action when the stack is known."""
    text = (f"{who(snapshot, proc.pid)}, {thread_label(proc, thread)}: "
            f"{wait_text(snapshot, proc, thread)}")
    action = library_action(thread)
    frame = stacks.user_frame(thread)
    extra = []
    if action:
        extra.append(action)
    if frame is not None:
        extra.append(f"at {stacks.where(frame)}")
    return text + (f" -- {'; '.join(extra)}" if extra else "")
