"""seed_hang.py with timestamps: when each child's put() returned and when the parent started
joining.  The hang forms at the latest of these (a feeder blocks within microseconds of its
put).  Writes "<what> <unix time>" lines to the file named by MPDOCTOR_BENCH_STAMPS.

    python seed_stamped.py [N] [START_METHOD] [CHILDREN]
"""

import multiprocessing
import os
import sys
import time

CHILDREN = 10


def stamp(text):
    path = os.environ.get("MPDOCTOR_BENCH_STAMPS")
    if path:
        with open(path, "a") as f:
            f.write(f"{text} {time.time():.6f}\n")


def put_one(q, n):
    q.put(["hello", n * "ss"])
    stamp("put")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    ctx = multiprocessing.get_context(sys.argv[2] if len(sys.argv) > 2 else None)
    count = int(sys.argv[3]) if len(sys.argv) > 3 else CHILDREN
    q = ctx.Queue()
    children = [ctx.Process(target=put_one, args=(q, n)) for _ in range(count)]
    for p in children:
        p.start()
    stamp("join")
    for p in children:
        p.join()
    print(len([q.get() for _ in children]))


if __name__ == "__main__":
    main()
