"""The lock ledger (hooks/locks.py): which of the user's locks a process holds, and where."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent('''
    import json, os, sys
    from mpdoctor.hooks import channel, locks
    channel.configure(os.path.join(sys.argv[1], "s"))
    import multiprocessing.synchronize as synchronize
    locks.patch_locks(synchronize)
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    lock = ctx.Lock()
    q = ctx.Queue()
    cond = ctx.Condition()
    sem = ctx.BoundedSemaphore(2)
    q.put(1); q.get()                                # a queue's own locks: not tracked
    out = {"with": None}; path = os.path.join(sys.argv[1], "held.%d" % os.getpid())
    with lock:                                       # line 15
        out["with"] = lock.acquire(False)            # held: False, as without the hooks
        with cond:                                   # line 17
            snap1 = locks.parse(open(path, "rb").read())
    sem.acquire(); sem.acquire()                     # line 19
    try:
        lock.release()
    except ValueError as exc:
        out["release_unheld"] = type(exc).__name__
    snap2 = locks.parse(open(path, "rb").read())
    out["snap1"] = snap1
    out["snap2"] = snap2
    out["tracked"] = [hasattr(x.acquire, "semlock") for x in (lock, q._rlock, cond._lock,
                      cond._sleeping_count, sem)]
    import pickle
    try:
        pickle.dumps(lock.acquire)                   # as without the hooks: the SemLock
    except Exception as exc:
        out["pickled"] = "%s: %s" % (type(exc).__name__, exc)
    print(json.dumps(out))
''')


def test_the_ledger_keeps_the_users_locks_and_where_they_were_taken(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    run = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    # the user's Lock, the Condition's lock and the user's semaphore; not the queue's locks,
    # nor the Condition's internal semaphores
    assert out["tracked"] == [True, False, True, False, True]
    assert out["pickled"] == "TypeError: cannot pickle '_multiprocessing.SemLock' object"
    assert out["with"] is False
    assert out["release_unheld"] == "ValueError"  # what SemLock.release raises, untouched
    held = {(s[4], s[3]) for s in out["snap1"]}
    assert held == {(15, 1), (17, 1)}  # inside both blocks: each held once, at its line
    assert all(s[5].endswith("prog.py") for s in out["snap1"])
    after = {s[4]: s[3] for s in out["snap2"]}
    assert after == {15: 0, 17: 0, 19: 2}  # released twice, the semaphore taken twice
    assert all(s[0] for s in out["snap2"])  # each slot knows its shared memory (dev:inode)


def test_parse_ignores_what_is_not_a_ledger():
    from mpdoctor.hooks import locks
    assert locks.parse(b"") == []
    assert locks.parse(b"\0" * locks.SLOT * 3) == []
    assert locks.parse(b"x" * 10) == []
