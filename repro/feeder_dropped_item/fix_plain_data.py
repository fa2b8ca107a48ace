"""The fix for drop_then_get.py: put plain, picklable data (the lock stays in the child).

    python fix_plain_data.py [START_METHOD]
"""

import multiprocessing
import sys
import threading


class Result:
    def __init__(self):
        self.value = 42
        self.lock = threading.Lock()

    def __getstate__(self):  # what crosses the process boundary: everything but the lock
        state = self.__dict__.copy()
        del state["lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.lock = threading.Lock()


def produce(q):
    q.put(Result())


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    q = ctx.Queue()
    p = ctx.Process(target=produce, args=(q,))
    p.start()
    print(q.get().value)
    p.join()
