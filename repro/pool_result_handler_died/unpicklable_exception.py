"""Hangs: a worker raises an exception class whose __init__ does not accept its own args; the
parent's result-handler thread dies unpickling it, and pool.map() waits forever.

    python unpicklable_exception.py [START_METHOD]
"""

import multiprocessing
import sys


class Payload:
    def __init__(self):
        self.code = 2


class ValidationError(Exception):
    def __init__(self, payload):
        super().__init__(payload.code)  # args == (2,), not (payload,): cannot be rebuilt


def check(_):
    raise ValidationError(Payload())


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    with ctx.Pool(2) as pool:
        pool.map(check, [1])
