"""A helper creates the Pool in a `with` block and returns it to its caller for later use.
Leaving the block terminated the Pool, so the caller's map() raises ValueError("Pool not
running").

Rewritten from johntruckenbrodt/spatialist#43 (using the ProcessPool context manager to fix
"ValueError: Pool not running") and uqfoundation/pathos#171 ("after map I implement
pool.close, raise error: pool not running")."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def make_pool(n):
    with CTX.Pool(n) as pool:
        pool.map(abs, [0])             # "warm up" the workers
        return pool                    # terminated when the block is left


if __name__ == "__main__":
    pool = make_pool(2)
    print(pool.map(abs, [-1, -2, -3]))
