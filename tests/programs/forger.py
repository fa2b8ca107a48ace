"""Sends forged events to a watched run's event socket, from outside its tree.

    python forger.py SOCKET_PATH CLAIMED_PID [USER]

With USER (the caller is root), it first becomes that user.  After the forged events it says
"forged" (a handshake), then keeps the socket's queue full with junk until the socket is gone
(the run has ended), and prints what it managed as JSON: ``{"forged": N, "sent": N,
"refused": "PermissionError..." or null}``.
"""

import json
import os
import pwd
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from zoo import ZOO  # noqa: E402

path, claimed = sys.argv[1], int(sys.argv[2])
if len(sys.argv) > 3:
    user = pwd.getpwnam(sys.argv[3])
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def event(kind, **fields):
    return json.dumps({"ev": kind, "pid": claimed, "t": 1.0, **fields}).encode()


# what a real forgery looked like: findings invented for a healthy run
FORGED = [
    event("pickle-error", op="Pool.map task", dropped=False, site="/forged.py:1",
          path="function (builtins.method) .pool -> multiprocessing.pool.Pool",
          culprit="multiprocessing.pool.Pool", why="pool objects cannot be passed",
          error="NotImplementedError: forged", thread="MainThread", pipe=None),
    event("main-guard", site="/forged.py:2", main="/forged.py"),
    event("pickle-error", op="Queue.put", dropped=True, site="/forged.py:3", path=None,
          culprit=None, why=None, error="PicklingError: forged", thread=None, pipe=1),
    event("hello", remaining=5.0, interval=0.0, mono=1.0, fork=False, start=None),
] + [data for name, data in ZOO.items() if name != "oversized"]

sent = 0
refused = None
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.connect(path)
    for data in FORGED:
        s.send(data)
        sent += 1
except OSError as err:
    refused = f"{type(err).__name__}: {err}"
forged = sent
print("forged", flush=True)
if refused is None:
    # then keep the queue full, so that nothing could wake a reader by sending to it
    s.setblocking(False)
    junk = b"x" * 60_000
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            try:
                s.send(junk)
                sent += 1
            except BlockingIOError:
                select.select([], [s], [], 0.01)
    except OSError:
        pass  # the run has ended: its socket is gone
print(json.dumps({"forged": forged, "sent": sent, "refused": refused}), flush=True)
