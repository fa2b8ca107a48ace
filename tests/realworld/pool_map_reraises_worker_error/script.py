"""Pool.map() runs a computation with a division by zero for one input.  The worker's
exception is pickled back and re-raised in the parent by map(), with only the parent's
frames in the main traceback: the worker's line is in the "remote traceback" text.

Rewritten from pragmaticpython.com's "Multiprocessing and exceptions - some batteries not
included" (the ZeroDivisionError of a Pool.map worker, raised again in the parent) and
bitsfolio.com's "When Python Multiprocessing Silently Kills Your Exceptions"."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def go(x):
    total = 0.0
    for i in range(x + 1):
        total += 1.0 / (5 - i)         # ZeroDivisionError for x >= 5
    return total


if __name__ == "__main__":
    with CTX.Pool(2) as pool:
        print(pool.map(go, range(8)))
