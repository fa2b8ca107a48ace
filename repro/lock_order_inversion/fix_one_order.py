"""The fix: every transfer takes the locks in one order (A before B, whatever the direction);
whoever gets A first also gets B, and the other waits for A, then goes on."""

import multiprocessing as mp
import sys


def transfer(locks, source, target, done):
    first, second = sorted((source, target))   # one order for everybody
    with locks[first]:
        with locks[second]:
            print("moved", source, "->", target)
    done.set()


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    locks = {"A": ctx.Lock(), "B": ctx.Lock()}
    done = ctx.Event()
    child = ctx.Process(target=transfer, args=(locks, "B", "A", done))
    child.start()
    transfer(locks, "A", "B", ctx.Event())
    child.join()
