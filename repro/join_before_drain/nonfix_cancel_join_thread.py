"""Not a fix: cancel_join_thread() ends the hang by throwing the children's data away.

    python nonfix_cancel_join_thread.py [START_METHOD]

Ten children each put one item of 16,384 bytes on the wire and call ``q.cancel_join_thread()``:
a child then exits without waiting for its feeder thread to write the item into the pipe.  The
parent's joins return, and its reads find only what the feeders managed to write before their
process ended: at most 4 items (4 x 16 KiB fill the 64 KiB pipe), usually fewer.  The rest is
gone, silently.

The size is chosen so that no item is ever cut in half: each one is exactly four whole pages of
the pipe, written in one go or not at all.  With other sizes a child can end in the middle of
writing an item, and the reader's get() then waits forever for the missing part.
"""

import multiprocessing
import queue
import sys
from multiprocessing.reduction import ForkingPickler

CHILDREN = 10
ON_THE_WIRE = 16384  # 4-byte length header + pickled item: four 4 KiB pages of the pipe


def payload(wire_bytes):
    """Bytes whose pickle, with the 4-byte header, is exactly ``wire_bytes`` long."""
    overhead = len(ForkingPickler.dumps(b"x" * 1000)) - 1000
    data = b"x" * (wire_bytes - 4 - overhead)
    assert len(ForkingPickler.dumps(data)) + 4 == wire_bytes
    return data


def put_and_leave(q, item):
    q.put(item)
    q.cancel_join_thread()  # exit without waiting for the feeder: the item may never be written


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else None
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue()
    item = payload(ON_THE_WIRE)
    children = [ctx.Process(target=put_and_leave, args=(q, item)) for _ in range(CHILDREN)]
    for p in children:
        p.start()
    for p in children:
        p.join()  # no hang: the children do not wait for their feeders
    received = 0
    while True:
        try:
            q.get(timeout=0.5)
        except queue.Empty:
            break
        received += 1
    print(f"all {CHILDREN} children joined; received {received} of {CHILDREN} items: "
          f"{CHILDREN - received} were lost")


if __name__ == "__main__":
    main()
