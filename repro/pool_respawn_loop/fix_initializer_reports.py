"""The fix: the initializer keeps its error instead of raising it; every task raises it, so
map() fails at once with the cause instead of waiting for ever."""

import multiprocessing as mp
import sys

_failed = None


def connect():
    global _failed
    try:
        raise ConnectionError("could not reach the cache at cache.invalid:6379")
    except Exception as exc:  # kept, and raised by the first task
        _failed = exc


def lookup(key):
    if _failed is not None:
        raise RuntimeError(f"worker start-up failed: {_failed}")
    return key.upper()


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    with ctx.Pool(2, initializer=connect) as pool:
        try:
            print(pool.map(lookup, ["a", "b", "c"]))
        except RuntimeError as exc:
            sys.exit(f"cannot run the lookups: {exc}")
