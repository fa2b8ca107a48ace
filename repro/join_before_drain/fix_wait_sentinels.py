"""Fix: wait for results and for process exits together, with multiprocessing.connection.wait.

    python fix_wait_sentinels.py [N] [START_METHOD]

Each child sends its item through a pipe of its own.  The parent waits on every pipe's read
end *and* every child's ``sentinel`` (a handle that becomes ready when the child exits) in one
call, reads whatever is ready, and joins a child only once it has exited.  It never waits for an
exit while data is stuck, and it notices a child that dies without sending anything instead of
waiting for it forever.
"""

import multiprocessing
import sys
from multiprocessing.connection import wait

CHILDREN = 10


def send_one(conn, n):
    conn.send(["hello", n * "ss"])
    conn.close()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    method = sys.argv[2] if len(sys.argv) > 2 else None
    ctx = multiprocessing.get_context(method)
    readers = {}  # read end -> child
    for _ in range(CHILDREN):
        reader, writer = ctx.Pipe(duplex=False)
        p = ctx.Process(target=send_one, args=(writer, n))
        p.start()
        writer.close()  # the child has its own copy: when it exits, the reader sees EOF
        readers[reader] = p
    running = {p.sentinel: p for p in readers.values()}
    items = []
    while readers or running:
        for ready in wait(list(readers) + list(running)):
            if ready in readers:  # an item, or EOF from a child that died without sending
                p = readers.pop(ready)
                try:
                    items.append(ready.recv())
                except EOFError:
                    print(f"child {p.pid} exited without sending its item")
                ready.close()
            else:  # a child has exited: join() returns at once
                p = running.pop(ready)
                p.join()
                if p.exitcode != 0:
                    print(f"child {p.pid} failed with exit code {p.exitcode}")
    print(f"received {len(items)} items of {len(items[0][1])} characters each")


if __name__ == "__main__":
    main()
