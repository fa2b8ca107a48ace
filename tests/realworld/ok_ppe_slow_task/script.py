"""Control (finishes): future.result() of a ProcessPoolExecutor waits while the task runs
for 3 s; the executor's manager thread and the worker are all waiting meanwhile.

Rewritten from temporalio/sdk-python#245 (a long-running activity in a
ProcessPoolExecutor, heartbeating while it sleeps)."""
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def compose_greeting(name):
    time.sleep(3)
    return f"Hello, {name}!"


if __name__ == "__main__":
    with ProcessPoolExecutor(max_workers=1, mp_context=CTX) as pool:
        print(pool.submit(compose_greeting, "World").result())
