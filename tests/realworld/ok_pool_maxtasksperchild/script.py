"""Control (finishes): Pool(maxtasksperchild=1) replaces every worker after each task, so
the pool keeps starting new processes, as a respawn loop would, but every task succeeds
and map() returns.

Rewritten from python/cpython#76067 (bpo-31886: "Multiprocessing.Pool hangs after
re-spawning several worker process"; here the respawns are the healthy, intended kind)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def render(n):
    return n * n


if __name__ == "__main__":
    with CTX.Pool(2, maxtasksperchild=1) as pool:
        print(sum(pool.map(render, range(6), chunksize=1)))
