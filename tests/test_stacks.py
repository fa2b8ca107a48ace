"""Reading stacks: what py-spy misreads is dropped, and a forked child's copy of its parent's
stack is never presented as where the child is."""

from __future__ import annotations

import json

from mpdoctor.diagnose import describe, stacks
from mpdoctor.model import Frame, Libraries, Process, Snapshot, Thread
from mpdoctor.observe import pyspy

LIB = "/opt/py/lib/python3.13"
MP = f"{LIB}/multiprocessing"
SCRIPT = "/tmp/cases/seed_copy.py"

# a forked child exiting, as py-spy 0.4 reads it on Python 3.13: no _bootstrap frame, and a
# phantom "__init__" frame at line 0 where the interpreter entered Python again
CHILD = [("Thread.join", f"{LIB}/threading.py", 1092),
         ("Queue._finalize_join", f"{MP}/queues.py", 217),
         ("Finalize.__call__", f"{MP}/util.py", 216),
         ("_run_finalizers", f"{MP}/util.py", 292),
         ("_exit_function", f"{MP}/util.py", 352),
         ("Popen._launch", f"{MP}/popen_fork.py", 76),
         ("Popen.__init__", f"{MP}/popen_fork.py", 20),
         ("__init__", "__init__", 0),
         ("ForkProcess._Popen", f"{MP}/context.py", 282),
         ("BaseProcess.start", f"{MP}/process.py", 121),
         ("main", SCRIPT, 28),
         ("<module>", SCRIPT, 36)]


def _dump():
    return json.dumps([{"os_thread_id": 7, "thread_name": "MainThread", "thread_id": 1,
                        "frames": [{"name": n, "filename": f, "line": line}
                                   for n, f, line in CHILD]}])


def test_phantom_frames_are_dropped():
    frames = pyspy.parse(7, _dump()).threads[0].frames
    assert "__init__" not in [f.filename for f in frames]
    assert len(frames) == len(CHILD) - 1


def test_without_bootstrap_the_fork_is_the_boundary():
    t = Thread(tid=7, frames=pyspy.parse(7, _dump()).threads[0].frames)
    snap = Snapshot(root_pid=1, processes=(Process(pid=7, ppid=1, threads=(t,)),),
                    libraries=Libraries(stdlib=(LIB,)))
    with stacks.using(snap):
        own = stacks.own_frames(t)
        assert own[-1].function == "Popen._launch"
        assert stacks.user_frame(t) is None  # p.start() at line 28 is the parent's
        text = describe.describe(snap, snap.processes[0], t)
    assert "seed_copy.py" not in text and "__init__:0" not in text


def test_bootstrap_still_wins():
    frames = [Frame("f", "/home/u/a.py", 3), Frame("BaseProcess.run", f"{MP}/process.py", 108),
              Frame("BaseProcess._bootstrap", f"{MP}/process.py", 314),
              Frame("Popen._launch", f"{MP}/popen_fork.py", 71),
              Frame("main", SCRIPT, 28)]
    own = stacks.own_frames(Thread(tid=1, frames=tuple(frames)))
    assert [f.function for f in own][-1] == "BaseProcess._bootstrap"
