"""How the proof and the rules scale with the size of the tree: a synthetic snapshot of N
children that wait on one named semaphore (the worst case: any process may wake each of them),
built and diagnosed in memory, no process started.

    python bench/proof_scale.py [N ...]        (default: 256 1024 4096)
"""

import sys
import time

from mpdoctor.diagnose import diagnose, waitfor
from mpdoctor.model import (Process, Role, SharedMapping, Snapshot, Thread, Wait, WaitKind)


def make(n):
    procs = [Process(pid=10, ppid=1, state="S", role=Role.MAIN, hooks=True, threads=(
        Thread(tid=10, state="S", still=True,
               wait=Wait(WaitKind.CHILD, "wait4", indefinite=True, pid=11)),))]
    for i in range(n):
        pid = 11 + i
        procs.append(Process(pid=pid, ppid=10, state="S", hooks=True, threads=(
            Thread(tid=pid, state="S", still=True,
                   wait=Wait(WaitKind.FUTEX, "futex", indefinite=True, private=False,
                             shared_key="0:1")),)))
    shared = SharedMapping("0:1", "/dev/shm/sem.x", mappers=tuple(p.pid for p in procs),
                           named=True)
    return Snapshot(root_pid=10, processes=tuple(procs), shared=(shared,), signals=True,
                    monotonic=1.0, alarm_timers=())


def main(sizes):
    print("| processes | proof (build) | proof and rules (diagnose) |")
    print("|---|---|---|")
    for n in sizes:
        s = make(n)
        t = time.perf_counter()
        waitfor.build(s)
        built = time.perf_counter() - t
        t = time.perf_counter()
        d = diagnose(s)
        diagnosed = time.perf_counter() - t
        assert d.deadlock
        print(f"| {n} | {built * 1000:.1f} ms | {diagnosed * 1000:.1f} ms |")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [256, 1024, 4096])
