"""Rules on recorded snapshots: fast, no processes."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import load_fixture
from mpdoctor.diagnose import diagnose
from mpdoctor.model import Event, Role, Thread, Wait, WaitKind

SEEDS = ["seed_fork.json", "seed_spawn.json", "seed_forkserver.json"]


@pytest.mark.parametrize("name", SEEDS)
def test_join_before_drain_on_the_seed(name):
    snap = load_fixture(name)
    d = diagnose(snap)
    assert d.deadlock
    [f] = d.findings
    assert f.slug == "join-before-drain"
    assert f.severity.value == "error"
    assert f.data["joiner"]["pid"] == snap.root_pid
    assert f.data["joiner"]["site"].endswith("repro/join_before_drain/seed_hang.py:30")
    pipe = snap.pipe_by_inode[f.data["pipe"]["inode"]]
    assert snap.root_pid in {h.pid for h in pipe.readers}
    [writer] = f.data["blocked_writers"]
    assert writer["feeder"] and writer["bytes_to_write"] == 40030
    assert f"pipe:[{pipe.inode}]" in " ".join(f.evidence)
    assert "seed_hang.py:30" in f.summary
    assert f.docs == "docs/diagnoses/join-before-drain.md"
    assert f.repro == "repro/join_before_drain/fix_drain_first.py"
    assert "get()" in f.fix and "join()" in f.fix


@pytest.mark.parametrize("name", SEEDS)
def test_join_before_drain_without_python_stacks(name):
    """procfs alone proves it; only the join line is then unknown."""
    snap = load_fixture(name)
    bare = dataclasses.replace(snap, processes=tuple(
        dataclasses.replace(p, threads=tuple(dataclasses.replace(t, frames=()) for t in p.threads))
        for p in snap.processes))
    [f] = diagnose(bare).findings
    assert f.slug == "join-before-drain"
    assert f.data["joiner"]["site"] is None
    assert any("join line is unknown" in e for e in f.evidence)



@pytest.mark.parametrize("name", ["producer_dies_fork.json", "producer_dies_spawn.json"])
def test_get_without_producer(name):
    snap = load_fixture(name)
    d = diagnose(snap)
    assert d.deadlock
    [f] = d.findings
    assert f.slug == "get-without-producer"
    assert f.data["reader"]["pid"] == snap.root_pid
    assert f.data["reader"]["call"] == "Queue.get()"
    assert f.data["reader"]["site"].endswith("repro/get_without_producer/producer_dies.py:16")
    assert f.data["writers"] == [snap.root_pid]  # only the reader itself holds the write end
    assert len(f.data["dead_children"]) == 1
    assert any("exited with status 1" in e for e in f.evidence)


def test_seed_is_not_mistaken_for_get_without_producer():
    # the resource tracker reads a pipe nobody writes to any more, but it is library code
    d = diagnose(load_fixture("seed_spawn.json"))
    assert [f.slug for f in d.findings] == ["join-before-drain"]


# every rule on a recorded run of its reproducer (repro/<slug>/...): fixture -> expected slug
RULE_FIXTURES = {
    "recv_keeps_writer_fork.json": "get-without-producer",
    "producer_dies_fork.json": "get-without-producer",
    "event_never_set_fork.json": "never-signalled",
    "event_never_set_spawn.json": "never-signalled",
    "event_never_set_forkserver.json": "never-signalled",
    "task_done_missing_fork.json": "never-signalled",
    "consumer_dies_fork.json": "put-without-consumer",
    "fork_while_locked_fork.json": "fork-with-lock-held",
    "feeder_blocks_exit_fork.json": "exit-blocked-by-child",
    "collector_thread_fork.json": "exit-blocked-by-thread",
    "both_send_fork.json": "pipe-both-send",
    "both_send_spawn.json": "pipe-both-send",
    "both_send_forkserver.json": "pipe-both-send",
    "worker_exits_fork.json": "pool-worker-died",
    "worker_exits_spawn.json": "pool-worker-died",
    "worker_exits_forkserver.json": "pool-worker-died",
    "unpicklable_exception_fork.json": "pool-result-handler-died",
    "handler_lock_fork.json": "lock-reentered",
    "holder_terminated_fork.json": "lock-holder-died",
    "holder_terminated_spawn.json": "lock-holder-died",
    "helper_keeps_pipe_fork.json": "inherited-pipe-end",
    "joblib_worker_killed_fork.json": "pool-worker-died",
    "opposite_orders_fork.json": "lock-order-inversion",
    "opposite_orders_spawn.json": "lock-order-inversion",
    "ppe_event_fork.json": "never-signalled",
    "service_stdout_spawn.json": "inherited-pipe-end",
}


@pytest.mark.parametrize("name,slug", sorted(RULE_FIXTURES.items()))
def test_each_rule_names_its_pattern_alone(name, slug):
    d = diagnose(load_fixture(name))
    assert d.deadlock
    assert [f.slug for f in d.findings] == [slug]
    f = d.findings[0]
    assert f.summary and f.fix and f.evidence
    assert f.docs == f"docs/diagnoses/{slug}.md"


def test_never_signalled_names_the_primitive():
    [f] = diagnose(load_fixture("event_never_set_fork.json")).findings
    assert f.data["waiter"]["primitive"] == "Event.wait()"
    assert f.data["waiter"]["site"].endswith("repro/never_signalled/event_never_set.py:21")
    [f] = diagnose(load_fixture("task_done_missing_fork.json")).findings
    assert f.data["waiter"]["primitive"] == "JoinableQueue.join()"
    assert "task_done()" in f.fix


def test_pool_worker_died_names_the_replacement():
    snap = load_fixture("worker_exits_fork.json")
    [f] = diagnose(snap).findings
    assert f.data["caller"]["site"].endswith("repro/pool_worker_died/worker_exits.py:21")
    assert len(f.data["workers"]) == 2
    assert len(f.data["replacements"]) == 1  # the first workers came from Pool(), not a refill


def test_pipe_both_send_names_both_senders():
    [f] = diagnose(load_fixture("both_send_fork.json")).findings
    sites = sorted(w["site"].rsplit("/", 1)[1] for w in f.data["writers"])
    assert sites == ["both_send.py:11", "both_send.py:20"]


def test_fork_with_lock_held_points_at_the_lock():
    [f] = diagnose(load_fixture("fork_while_locked_fork.json")).findings
    assert f.data["child"]["site"].endswith("repro/fork_with_lock_held/fork_while_locked.py:27")
    assert f.data["parent_threads"]


def test_exit_blocked_by_a_polling_child_accompanies_a_timeout():
    d = diagnose(load_fixture("worker_never_told_to_stop_fork.json"))
    assert not d.deadlock
    [f] = d.findings
    assert f.slug == "exit-blocked-by-child"
    assert f.data["waits_for"] == "child" and f.data["proven"] is False


def test_rules_without_python_stacks_fall_back_honestly():
    """Without stacks, patterns that need them are not guessed: the deadlock stays proven and
    is reported as unexplained (or by a kernel-only rule)."""
    snap = load_fixture("event_never_set_fork.json")
    bare = dataclasses.replace(snap, processes=tuple(
        dataclasses.replace(p, threads=tuple(dataclasses.replace(t, frames=()) for t in p.threads))
        for p in snap.processes))
    d = diagnose(bare)
    assert d.deadlock
    assert [f.slug for f in d.findings] == ["unexplained-deadlock"]
    # and it says which pattern came closest, and what was missing
    near = d.findings[0].data["closest"]
    assert near["slug"] == "never-signalled"
    assert near["present"] == ["a thread waits on a lock, event or semaphore"]
    assert "Python stack" in near["missing"] and "no Python stacks were read" in near["missing"]
    assert d.findings[0].evidence[-1].startswith("closest known pattern: never-signalled")


def test_alike_processes_get_one_dump_and_share_its_stacks():
    """In a big tree, processes alike (command line, threads in the same calls) are read once:
    the others get the representative's stacks, labelled as such."""
    from mpdoctor.model import Dump, PyThread
    from mpdoctor.run import engine
    snap = load_fixture("seed_fork.json")
    pids = [p.pid for p in snap.processes]
    like = engine.alike(snap, pids)
    assert snap.root_pid not in like
    reps = set(like.values())
    assert like and all(r not in like for r in reps)
    for pid, rep in like.items():
        assert engine._signature(snap.by_pid[pid]) == engine._signature(snap.by_pid[rep])
    dumps = {p.pid: Dump(p.pid, [PyThread(t.tid, t.name, None, t.frames) for t in p.threads])
             for p in snap.processes if p.pid not in like}
    copies = engine.copied(snap, dumps, like)
    pid, rep = next(iter(like.items()))
    assert copies[pid].source == f"like process {rep}"
    assert [t.os_tid for t in copies[pid].threads] == [t.tid for t in snap.by_pid[pid].threads]
    assert [t.frames for t in copies[pid].threads] == [t.frames for t in snap.by_pid[rep].threads]


# --------------------------------------------------------------------------------------------
# likely findings at a timeout: nothing proven, the samples and the hooks' events say why


def _here(snap):
    """The fixture with its repro/ paths pointing into this checkout (the rules read the
    loop's source lines), wherever it was recorded."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def move(frames):
        out = []
        for f in frames:
            if "/repro/" in f.filename:
                f = dataclasses.replace(
                    f, filename=os.path.join(root, "repro", f.filename.split("/repro/", 1)[1]))
            out.append(f)
        return tuple(out)

    processes = tuple(dataclasses.replace(p, threads=tuple(
        dataclasses.replace(t, frames=move(t.frames)) for t in p.threads))
        for p in snap.processes)
    samples = tuple(dataclasses.replace(s, frames=move(s.frames)) for s in snap.samples)
    return dataclasses.replace(snap, processes=processes, samples=samples)


TIMEOUT_FIXTURES = {
    "ready_flag_fork.json": "polling-without-progress",
    "respawn_spawn.json": "pool-respawn-loop",
    "accept_outside_fork.json": "waits-on-outside",
}


@pytest.mark.parametrize("name,slug", sorted(TIMEOUT_FIXTURES.items()))
def test_each_likely_finding_on_its_timeout(name, slug):
    d = diagnose(_here(load_fixture(name)))
    assert not d.deadlock
    assert [f.slug for f in d.findings] == [slug]
    [f] = d.findings
    assert f.severity.value == "warning"
    assert f.summary.startswith("likely: ")
    assert f.data["proven"] is False
    assert f.fix and f.evidence and f.docs == f"docs/diagnoses/{slug}.md"


def test_polling_names_the_loop_and_the_dead_loader():
    snap = _here(load_fixture("ready_flag_fork.json"))
    [f] = diagnose(snap).findings
    poller = f.data["poller"]
    assert (poller["pid"], poller["tid"]) == (snap.root_pid, snap.root_pid)
    # the samples catch the sleep (line 22); the loop is the while statement around it
    assert (poller["first"], poller["last"]) == (21, 22)
    assert poller["idle"] and poller["samples"] == 6
    text = " ".join(f.evidence)
    assert "while not ready.value" in text
    assert "KeyError: 'model'" in text  # what the loader died of, from the hooks


def test_polling_needs_every_sample_in_the_loop():
    # a thread that left the loop in one sample is doing something else: no finding
    snap = load_fixture("ready_flag_fork.json")
    first, *rest = snap.samples
    moved = dataclasses.replace(first, frames=tuple(
        dataclasses.replace(fr, line=fr.line + 200) if fr.filename.endswith(
            "ready_flag_never_set.py") else fr for fr in first.frames))
    d = diagnose(dataclasses.replace(snap, samples=(moved, *rest)))
    assert [f.slug for f in d.findings] == []


def test_polling_is_no_finding_while_another_thread_can_act():
    # the same loop, with the loader still alive and sleeping: it may yet set the flag
    snap = load_fixture("ready_flag_fork.json")
    [loader] = [p for p in snap.processes if p.pid != snap.root_pid and p.role.value == "child"]
    alive = dataclasses.replace(loader, state="S", threads=tuple(
        dataclasses.replace(t, state="S", wait=dataclasses.replace(t.wait, kind=WaitKind.SLEEP,
                                                                   syscall="clock_nanosleep"))
        for t in loader.threads) or (Thread(loader.pid, state="S", wait=Wait(
            WaitKind.SLEEP, syscall="clock_nanosleep")),))
    processes = tuple(alive if p is loader else p for p in snap.processes)
    d = diagnose(dataclasses.replace(snap, processes=processes))
    assert [f.slug for f in d.findings] == []


def test_respawn_counts_the_dead_workers_and_names_the_error():
    [f] = diagnose(load_fixture("respawn_spawn.json")).findings
    assert f.data["respawns"] >= 3
    assert f.data["error"] == "ConnectionError: could not reach the cache at cache.invalid:6379"
    assert f.data["error_site"].endswith("repro/pool_respawn_loop/initializer_raises.py:10")
    assert f.data["pending"][0]["site"].endswith("initializer_raises.py:20")


def test_respawn_needs_the_same_death_again_and_again():
    from mpdoctor.hooks import protocol
    snap = load_fixture("respawn_spawn.json")
    deaths = [e for e in snap.events if e.kind == protocol.POOL_WORKER_EXIT]
    # only two workers died: a first round of deaths is not yet a loop
    kept = tuple(e for e in snap.events if e.kind != protocol.POOL_WORKER_EXIT) + tuple(deaths[:2])
    assert [f.slug for f in diagnose(dataclasses.replace(snap, events=kept)).findings] == []


def test_outside_wait_names_accept_and_who_waits_behind_it():
    snap = load_fixture("accept_outside_fork.json")
    [f] = diagnose(snap).findings
    assert f.data["waiter"]["pid"] == snap.root_pid
    assert "accept()" in f.data["waiter"]["waits_for"]
    assert f.data["site"].endswith("repro/waits_on_outside/accept_without_client.py:24")
    assert "2 threads of the tree wait behind it" in " ".join(f.evidence)


def test_outside_wait_is_no_finding_when_the_listener_is_private():
    # a listener whose address only the tree knows (the forkserver's) is woken from inside
    snap = load_fixture("accept_outside_fork.json")
    sockets = tuple(dataclasses.replace(s, private="known only to the tree")
                    for s in snap.sockets)
    d = diagnose(dataclasses.replace(snap, sockets=sockets))
    assert "waits-on-outside" not in [f.slug for f in d.findings]


def test_lock_reentered_names_both_frames_of_the_one_thread():
    snap = _here(load_fixture("handler_lock_fork.json"))
    [f] = diagnose(snap).findings
    assert f.data["lock"] == "lock"
    assert f.data["holder"]["tid"] == f.data["waiter"]["tid"]
    assert f.data["holder"]["site"].endswith("repro/lock_reentered/handler_takes_lock.py:19")
    assert f.data["waiter"]["site"].endswith("repro/lock_reentered/handler_takes_lock.py:14")
    assert f.data["waiter"]["function"] == "worker.<locals>.checkpoint_and_exit"
    assert f.data["how"] == "interrupt"  # nothing on the stack called the handler
    assert snap.root_pid in f.pids  # the parent, in join(), is stuck with it


def test_lock_reentered_needs_the_same_lock():
    # the handler takes another lock of the same name (not a closure variable of worker):
    # the frames prove nothing about it, and the finding falls back to the generic one
    from mpdoctor.diagnose import reentered, stacks
    snap = _here(load_fixture("handler_lock_fork.json"))
    [child] = [p for p in snap.processes if p.pid != snap.root_pid and p.role.value == "child"]
    main = child.main_thread
    renamed = tuple(dataclasses.replace(fr, function="checkpoint_and_exit")
                    if fr.function.endswith("checkpoint_and_exit") else fr for fr in main.frames)
    thread = dataclasses.replace(main, frames=renamed)
    with stacks.using(snap):
        assert reentered.reentry(main) is not None
        assert reentered.reentry(thread) is None


@pytest.mark.parametrize("name", ["holder_terminated_fork.json", "holder_terminated_spawn.json"])
def test_lock_holder_died_names_the_dead_holder_and_its_line(name):
    snap = load_fixture(name)
    [f] = diagnose(snap).findings
    [holder] = f.data["holders"]
    assert holder["pid"] not in {p.pid for p in snap.processes if p.state != "Z"}
    assert holder["site"].endswith("repro/lock_holder_died/holder_terminated.py:10")
    assert "SIGTERM" in holder["death"]
    [waiter] = f.data["waiters"]
    assert waiter["pid"] == snap.root_pid
    assert waiter["site"].endswith("repro/lock_holder_died/holder_terminated.py:24")


def test_lock_holder_died_needs_the_ledger():
    # without the hooks' ledgers the holder is unknown: the generic finding, not a guess
    snap = load_fixture("holder_terminated_fork.json")
    d = diagnose(dataclasses.replace(snap, locks=()))
    assert d.deadlock
    assert [f.slug for f in d.findings] == ["never-signalled"]


def test_lock_holder_died_leaves_a_signalling_semaphore_alone():
    # a process that released it more often than it took it: the lock is used to signal
    snap = load_fixture("holder_terminated_fork.json")
    signaller = dataclasses.replace(snap.locks[0], pid=snap.root_pid, count=-1)
    d = diagnose(dataclasses.replace(snap, locks=snap.locks + (signaller,)))
    assert [f.slug for f in d.findings] == ["never-signalled"]


def test_lock_holder_died_only_blames_the_dead():
    # the same ledger entry for a process that is still alive: it may yet release the lock
    snap = load_fixture("holder_terminated_fork.json")
    alive = tuple(dataclasses.replace(h, pid=snap.root_pid) for h in snap.locks)
    d = diagnose(dataclasses.replace(snap, locks=alive))
    assert "lock-holder-died" not in [f.slug for f in d.findings]


# -- inherited-pipe-end -------------------------------------------------------------------------

def _inherited(name):
    snap = load_fixture(name)
    [f] = diagnose(snap).findings
    assert f.slug == "inherited-pipe-end"
    return snap, f


def test_inherited_pipe_end_names_the_forked_holder_and_who_forked_it():
    snap, f = _inherited("helper_keeps_pipe_fork.json")
    [holder] = f.data["holders"]
    assert holder["how"] == "fork" and holder["from"] == snap.root_pid
    reader = f.data["reader"]
    assert reader["site"].endswith("repro/inherited_pipe_end/helper_keeps_pipe.py:23")
    assert snap.by_pid[reader["pid"]].ppid == snap.root_pid != holder["pid"]
    assert any(f"when main process {snap.root_pid} forked it" in e for e in f.evidence)
    assert "end of file" in f.summary and "close" in f.fix


def test_inherited_pipe_end_names_a_standard_stream_inherited_from_a_launcher():
    snap, f = _inherited("service_stdout_spawn.json")
    [holder] = f.data["holders"]
    assert holder["how"] == "stdio" and holder["fd"] == 1
    assert f.data["reader"]["site"].endswith("tests/programs/service_keeps_stdout.py:20")
    assert "DEVNULL" in f.fix


def _slugs(snap):
    return [f.slug for f in diagnose(snap).findings]


def test_inherited_pipe_end_needs_to_know_the_copy_was_inherited():
    # without the forked child's hello, a parent that closed its copy proves nothing: the
    # helper may have made the pipe itself after the fork
    snap, _ = _inherited("helper_keeps_pipe_fork.json")
    bare = dataclasses.replace(snap, events=tuple(e for e in snap.events if e.kind != "hello"))
    assert "inherited-pipe-end" not in _slugs(bare)
    assert "get-without-producer" in _slugs(bare)


def test_inherited_pipe_end_leaves_a_copy_made_after_the_fork_alone():
    snap, f = _inherited("helper_keeps_pipe_fork.json")
    holder = f.data["holders"][0]["pid"]
    events = tuple(dataclasses.replace(e, data={**e.data, "inherited": ""})
                   if e.kind == "hello" and e.pid == holder else e for e in snap.events)
    assert "inherited-pipe-end" not in _slugs(dataclasses.replace(snap, events=events))


def test_inherited_pipe_end_does_not_trust_a_truncated_list():
    # a child with too many fds to look at all says so ("..."): what it does not list may
    # still have been inherited, so the absence proves nothing (and the parent closed its copy)
    snap, f = _inherited("helper_keeps_pipe_fork.json")
    holder = f.data["holders"][0]["pid"]
    end = f"pipe:[{f.data['inode']}]"
    listed = next(e for e in snap.events if e.kind == "hello" and e.pid == holder)
    assert end in listed.data["inherited"].split()
    events = tuple(dataclasses.replace(e, data={**e.data, "inherited": "pipe:[1] ..."})
                   if e is listed else e for e in snap.events)
    assert "inherited-pipe-end" not in _slugs(dataclasses.replace(snap, events=events))


def test_inherited_pipe_end_leaves_a_producer_alone():
    # a holder the hooks saw putting to that pipe was meant to write to it
    snap, f = _inherited("helper_keeps_pipe_fork.json")
    holder = f.data["holders"][0]["pid"]
    put = Event("put-site", holder, snap.taken_at, {"site": "x.py:1", "pipe": f.data["inode"]})
    assert "inherited-pipe-end" not in _slugs(
        dataclasses.replace(snap, events=snap.events + (put,)))


def test_inherited_pipe_end_leaves_a_child_started_with_its_output_on_the_pipe_alone():
    # the reader started it with stdout=PIPE itself: it is the producer
    snap, f = _inherited("service_stdout_spawn.json")
    holder, reader = f.data["holders"][0]["pid"], f.data["reader"]["pid"]
    processes = tuple(dataclasses.replace(p, ppid=reader) if p.pid == holder else p
                      for p in snap.processes)
    assert "inherited-pipe-end" not in _slugs(dataclasses.replace(snap, processes=processes))


# -- joblib: Parallel's result loop -------------------------------------------------------------

def test_joblib_result_loop_is_a_wait_on_the_callback_thread():
    snap = load_fixture("joblib_worker_killed_fork.json")
    [f] = diagnose(snap).findings
    assert f.slug == "pool-worker-died"
    assert "Parallel.__call__()" in f.summary
    assert f.data["caller"]["site"].endswith("joblib_mp_backend_worker_killed/script.py:25")
    assert any(d["exitcode"] == -11 for d in f.data["dead_workers"])  # the SIGSEGV


@pytest.mark.parametrize("change", ["no event", "deadline"])
def test_joblib_result_loop_can_act_unless_the_hooks_said_it_has_no_deadline(change):
    # without the hooks' word, or with Parallel(timeout=...), the loop ends by itself
    snap = load_fixture("joblib_worker_killed_fork.json")
    if change == "no event":
        events = tuple(e for e in snap.events if e.kind != "joblib-wait")
    else:
        events = tuple(dataclasses.replace(e, data={**e.data, "deadline": True})
                       if e.kind == "joblib-wait" else e for e in snap.events)
    assert len(events) == len(snap.events) - (change == "no event")
    assert not diagnose(dataclasses.replace(snap, events=events)).deadlock


# -- lock-order-inversion ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["opposite_orders_fork.json", "opposite_orders_spawn.json"])
def test_lock_order_inversion_names_each_holder_and_where_it_took_its_lock(name):
    snap = load_fixture(name)
    [f] = diagnose(snap).findings
    circle = f.data["circle"]
    assert len(circle) == 2 and {c["pid"] for c in circle} == {
        p.pid for p in snap.processes if p.role in (Role.MAIN, Role.CHILD)}
    for step, nxt in zip(circle, circle[1:] + circle[:1]):
        assert step["held_by"]["pid"] == nxt["pid"]  # each waits for the next one's lock
        assert step["site"].endswith("repro/lock_order_inversion/opposite_orders.py:14")
        assert step["held_by"]["site"].endswith("repro/lock_order_inversion/opposite_orders.py:11")
    assert step["waits_for"] != nxt["waits_for"]
    assert "opposite orders" in f.summary and "`second`" in f.summary


def test_lock_order_inversion_needs_the_ledger():
    snap = load_fixture("opposite_orders_fork.json")
    d = diagnose(dataclasses.replace(snap, locks=()))
    assert d.deadlock and "lock-order-inversion" not in [f.slug for f in d.findings]


def test_lock_order_inversion_needs_the_circle_to_close():
    # one ledger entry lost: the holder of one lock is unknown, so there is no circle to show
    snap = load_fixture("opposite_orders_fork.json")
    held = [h for h in snap.locks if h.count > 0]
    d = diagnose(dataclasses.replace(snap, locks=tuple(h for h in snap.locks if h != held[0])))
    assert d.deadlock and "lock-order-inversion" not in [f.slug for f in d.findings]


def test_lock_order_inversion_leaves_a_signalling_semaphore_alone():
    snap = load_fixture("opposite_orders_fork.json")
    first = next(h for h in snap.locks if h.count > 0)
    signal = dataclasses.replace(first, pid=first.pid, count=-1, tid=first.tid + 1)
    d = diagnose(dataclasses.replace(snap, locks=snap.locks + (signal,)))
    assert "lock-order-inversion" not in [f.slug for f in d.findings]


def test_an_executors_manager_thread_is_named_for_its_role_and_gets_no_finding():
    # it waits for the workers' results: that is the workers' finding (never-signalled)
    from mpdoctor.diagnose import describe
    snap = load_fixture("ppe_event_fork.json")
    root = snap.root
    [manager] = [t for t in root.threads if describe.housekeeper(t)]
    assert "ProcessPoolExecutor's manager thread" in describe.describe(snap, root, manager)
    assert [f.slug for f in diagnose(snap).findings] == ["never-signalled"]
