"""A ProcessPoolExecutor is given a function that is defined inside the main guard.  Under
spawn or forkserver a worker imports the main module as __mp_main__, which does not have
the function: unpickling the call fails with AttributeError: Can't get attribute 'is_prime'
on <module '__mp_main__'>, the worker dies, and the parent gets BrokenProcessPool.  With
fork the worker has the parent's copy of the function and the program works.

Rewritten from python/cpython#132898 (the ProcessPoolExecutor example fails with
"Can't get attribute 'is_prime' on <module '__mp_main__'>" when the function is defined
where the spawned worker cannot import it)."""
import math
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)

if __name__ == "__main__":
    def is_prime(n):
        return n > 1 and all(n % k for k in range(2, math.isqrt(n) + 1))

    with ProcessPoolExecutor(max_workers=2, mp_context=CTX) as pool:
        for n, prime in zip([1000003, 97], pool.map(is_prime, [1000003, 97])):
            print(n, "is prime:", prime)
