"""The fix for unpicklable_exception.py: the exception passes its constructor's arguments to
Exception.__init__, so it can be pickled and rebuilt in the parent.

    python fix_picklable_exception.py [START_METHOD]
"""

import multiprocessing
import sys


class Payload:
    def __init__(self):
        self.code = 2


class ValidationError(Exception):
    def __init__(self, payload):
        super().__init__(payload)  # args == (payload,): pickle can rebuild it
        self.code = payload.code


def check(_):
    raise ValidationError(Payload())


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else None)
    with ctx.Pool(2) as pool:
        try:
            pool.map(check, [1])
        except ValidationError as err:
            print("worker failed with code", err.code)
