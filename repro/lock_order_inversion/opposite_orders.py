"""Two processes move money between two accounts, each guarded by a multiprocessing.Lock.
The parent transfers from A to B (takes A, then B); the child from B to A (takes B, then A).
Each gets its first lock, then waits for ever for the one the other holds.  (The Events only
make the bad timing certain: in real programs it happens now and then.)"""

import multiprocessing as mp
import sys


def transfer(first, second, have_first, other_has_first):
    with first:
        have_first.set()
        other_has_first.wait()
        with second:                    # held by the other process, which waits for `first`
            print("moved")


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    lock_a, lock_b = ctx.Lock(), ctx.Lock()
    parent_has_a, child_has_b = ctx.Event(), ctx.Event()
    child = ctx.Process(target=transfer, args=(lock_b, lock_a, child_has_b, parent_has_a))
    child.start()
    transfer(lock_a, lock_b, parent_has_a, child_has_b)
    child.join()
