"""The proof, on recorded snapshots and on small hand-made ones (no processes involved)."""

from __future__ import annotations

import dataclasses
import signal

import pytest

from conftest import load_fixture
from mpdoctor.diagnose import diagnose, waitfor
from mpdoctor.model import (Holder, Pipe, Process, Role, Snapshot, Thread, Wait, WaitKind)

SEEDS = ["seed_fork.json", "seed_spawn.json", "seed_forkserver.json"]


def _replace_thread(snap: Snapshot, pred, **changes) -> Snapshot:
    procs = []
    for p in snap.processes:
        threads = tuple(dataclasses.replace(t, **changes) if pred(p, t) else t for t in p.threads)
        procs.append(dataclasses.replace(p, threads=threads))
    return dataclasses.replace(snap, processes=tuple(procs))


@pytest.mark.parametrize("name", SEEDS)
def test_seed_snapshots_are_proven_deadlocks(name):
    g = waitfor.build(load_fixture(name))
    assert g.deadlocked
    # every thread of the script's processes is stuck; the resource tracker too (it only reads)
    for p in g.snapshot.processes:
        if p.state != "Z" and p.role is not Role.FORKSERVER:
            assert all(g.is_stuck(p.pid, t.tid) for t in p.threads), p.pid


@pytest.mark.parametrize("name", SEEDS)
def test_chain_is_a_closed_cycle_through_the_main_thread(name):
    snap = load_fixture(name)
    g = waitfor.build(snap)
    nodes = waitfor.chain(g)
    assert nodes[0] == nodes[-1] == ("t", snap.root_pid, snap.root_pid)
    # each step waits on the next one
    for a, b in zip(nodes, nodes[1:]):
        assert b in g.wakers[a] or ("p", b[1]) in g.wakers[a]


@pytest.mark.parametrize("name", SEEDS)
def test_a_writer_that_moved_breaks_the_proof(name):
    snap = load_fixture(name)
    moving = _replace_thread(snap, lambda p, t: t.wait.kind is WaitKind.WRITE, still=False)
    assert waitfor.build(snap).deadlocked
    assert not waitfor.build(moving).deadlocked


@pytest.mark.parametrize("name", SEEDS)
def test_a_pipe_connected_outside_breaks_the_proof(name):
    snap = load_fixture(name)
    outside = dataclasses.replace(
        snap, pipes=tuple(dataclasses.replace(p, outside=True) for p in snap.pipes))
    assert not waitfor.build(outside).deadlocked


def test_sleeping_child_is_not_a_deadlock():
    snap = load_fixture("child_sleeps_fork.json")
    d = diagnose(snap)
    assert not d.deadlock and not d.findings
    assert any("sleep" in link.text for link in d.movable)


# --- hand-made snapshots -------------------------------------------------------------------

def thread(tid, kind, **wait):
    wait.setdefault("indefinite", True)
    return Thread(tid=tid, state="S", wait=Wait(kind, **wait), still=True)


def proc(pid, ppid, *threads, role=Role.CHILD):
    return Process(pid=pid, ppid=ppid, state="S", role=role, threads=tuple(threads), hooks=True)


def test_lock_taken_twice_in_a_single_thread_is_stuck():
    snap = Snapshot(root_pid=10, processes=(
        proc(10, 1, thread(10, WaitKind.FUTEX, syscall="futex", private=True), role=Role.MAIN),))
    d = diagnose(snap)
    assert d.deadlock
    assert [f.slug for f in d.findings] == ["unexplained-deadlock"]
    near = d.findings[0].data["closest"]
    assert near["slug"] == "never-signalled"
    assert near["missing"].startswith("the Python stack shows which primitive")


def test_a_second_thread_that_runs_can_release_the_lock():
    snap = Snapshot(root_pid=10, processes=(proc(
        10, 1, thread(10, WaitKind.FUTEX, syscall="futex", private=True),
        Thread(tid=11, state="R", wait=Wait(WaitKind.RUNNING)), role=Role.MAIN),))
    assert not diagnose(snap).deadlock


def test_timed_waits_are_never_stuck():
    snap = Snapshot(root_pid=10, processes=(proc(
        10, 1, thread(10, WaitKind.FUTEX, syscall="futex", private=True, indefinite=False),
        role=Role.MAIN),))
    assert not diagnose(snap).deadlock


def test_reader_with_a_live_writer_is_not_stuck():
    pipe = Pipe(inode=5, pending=0, capacity=65536, readers=(Holder(10, 3),),
                writers=(Holder(11, 4),))
    snap = Snapshot(root_pid=10, pipes=(pipe,), processes=(
        proc(10, 1, thread(10, WaitKind.READ, syscall="read", fd=3, target="pipe:[5]"),
             role=Role.MAIN),
        proc(11, 10, Thread(tid=11, state="S", wait=Wait(WaitKind.SLEEP, "nanosleep"),
                            still=True))))
    assert not diagnose(snap).deadlock


def test_reader_whose_only_writer_is_itself_is_stuck():
    # the parent kept its own copy of the write end and reads after the child has exited
    pipe = Pipe(inode=5, pending=0, capacity=65536, readers=(Holder(10, 3),),
                writers=(Holder(10, 4),))
    snap = Snapshot(root_pid=10, pipes=(pipe,), processes=(
        proc(10, 1, thread(10, WaitKind.READ, syscall="read", fd=3, target="pipe:[5]"),
             role=Role.MAIN),))
    d = diagnose(snap)
    assert d.deadlock
    assert d.chain[0].pid == 10


def _forkserver_tree(worker_thread, server_state="S", listener_private=True,
                     catches_sigchld=True):
    """The main process polls a forkserver worker's sentinel pipe (written by the forkserver
    when the worker exits); the forkserver waits in epoll for a connection on its listener, end
    of file on the alive pipe (written by the main process) or its SIGCHLD wake-up pipe."""
    from mpdoctor.model import PolledFd, Socket
    sentinel = Pipe(inode=7, pending=0, readers=(Holder(10, 11),), writers=(Holder(20, 5),))
    alive = Pipe(inode=8, pending=0, readers=(Holder(20, 4),), writers=(Holder(10, 9),))
    wakeup = Pipe(inode=9, pending=0, readers=(Holder(20, 6),), writers=(Holder(20, 7),))
    listener = Socket(inode=30, kind="stream", holders=(Holder(20, 3),), listening=True,
                      private="the forkserver's listener" if listener_private else "")
    main = proc(10, 1, thread(10, WaitKind.POLL, syscall="poll",
                              fds=(PolledFd(11, True, False, "pipe:[7]"),)), role=Role.MAIN)
    server_wait = Wait(WaitKind.POLL, "epoll_wait", indefinite=True, fds=(
        PolledFd(3, True, False, "socket:[30]"), PolledFd(4, True, False, "pipe:[8]"),
        PolledFd(6, True, False, "pipe:[9]")))
    server = dataclasses.replace(
        proc(20, 10, Thread(tid=20, state=server_state, still=server_state == "S",
                            wait=server_wait if server_state == "S" else Wait(WaitKind.RUNNING)),
             role=Role.FORKSERVER),
        sig_caught=(1 << (signal.SIGCHLD - 1)) if catches_sigchld else 0)
    procs = (main, server) + ((proc(21, 20, worker_thread),) if worker_thread else ())
    return Snapshot(root_pid=10, pipes=(sentinel, alive, wakeup), sockets=(listener,),
                    processes=procs, signals=True)


def test_a_forkserver_is_judged_by_its_own_threads():
    stuck_worker = thread(21, WaitKind.FUTEX, syscall="futex", private=True)
    assert diagnose(_forkserver_tree(stuck_worker)).deadlock
    # a worker that can still exit wakes the forkserver (SIGCHLD), which writes the sentinel
    sleeping = Thread(tid=21, state="S", still=True, wait=Wait(WaitKind.SLEEP, "clock_nanosleep"))
    assert not diagnose(_forkserver_tree(sleeping)).deadlock
    # a forkserver that runs (its atexit handlers, say) can act, with or without children
    assert not diagnose(_forkserver_tree(None, server_state="R")).deadlock
    assert not diagnose(_forkserver_tree(stuck_worker, server_state="R")).deadlock


def test_a_childless_forkserver_blocked_in_its_loop_is_stuck_by_its_own_threads():
    # (what it is does not matter: each of its threads is observed blocked)
    assert diagnose(_forkserver_tree(None)).deadlock
    assert diagnose(_forkserver_tree(None, catches_sigchld=False)).deadlock


def test_a_listening_socket_anyone_may_connect_to_is_a_way_out():
    stuck_worker = thread(21, WaitKind.FUTEX, syscall="futex", private=True)
    d = diagnose(_forkserver_tree(stuck_worker, listener_private=False))
    assert not d.deadlock
    assert any("listening socket" in m.text for m in d.movable)


def test_a_zombie_child_means_the_wait_will_end():
    snap = Snapshot(root_pid=10, processes=(
        proc(10, 1, thread(10, WaitKind.CHILD, syscall="wait4", pid=11), role=Role.MAIN),
        dataclasses.replace(proc(11, 10, Thread(tid=11, state="Z")), state="Z")))
    assert not diagnose(snap).deadlock


def test_a_named_semaphore_can_be_opened_later_by_any_live_process():
    """A spawned child that does not map the parent's Event yet will open it by name: the
    parent's wait is not stuck while that child can still run."""
    from mpdoctor.model import SharedMapping
    sem = SharedMapping("00:1b:7", "/dev/shm/sem.abc (deleted)", mappers=(10,), named=True)
    main = proc(10, 1, thread(10, WaitKind.FUTEX, syscall="futex", private=False,
                              shared_key="00:1b:7"), role=Role.MAIN)
    starting = proc(11, 10, Thread(tid=11, state="R", wait=Wait(WaitKind.RUNNING)))
    snap = Snapshot(root_pid=10, processes=(main, starting), shared=(sem,))
    assert not diagnose(snap).deadlock
    # without its name, only the processes that map it now could ever wake it
    sealed = dataclasses.replace(snap, shared=(dataclasses.replace(sem, named=False),))
    assert diagnose(sealed).deadlock
    # and a zombie never opens anything
    zombie = dataclasses.replace(proc(11, 10, Thread(tid=11, state="Z")), state="Z")
    assert diagnose(dataclasses.replace(snap, processes=(main, zombie))).deadlock
