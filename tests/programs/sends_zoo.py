"""Sends the zoo of invalid datagrams to mpdoctor's event socket from inside the watched tree,
then a few valid events with the nastiest values the protocol allows, and exits 0.

    python sends_zoo.py
"""

import array
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from zoo import ZOO  # noqa: E402

from mpdoctor.hooks import boot, protocol  # noqa: E402

addr = boot.decode(os.environ["MPDOCTOR_HOOKS"])["addr"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(addr)
for data in ZOO.values():
    s.send(data)  # (blocking: the queue is short, and the reader takes them one by one)
r, w = os.pipe()
s.sendmsg([b"{}"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r, w]).tobytes())])

NASTY = "[/bold]\x1b[31m::error::x%0A<b>\x00\n" * 100


def event(kind, **fields):
    return json.dumps({"ev": kind, "pid": 1, "t": time.time(), **fields}).encode()


s.send(event(protocol.PICKLE_ERROR, op="Queue.put", dropped=False, site=NASTY[:4096],
             path=NASTY[:4096], culprit=NASTY[:4096], why=NASTY[:4096], error=NASTY[:4096],
             thread=NASTY[:4096], pipe=protocol.INODE_MAX))
s.send(event(protocol.MAIN_GUARD, site="x.py:99999999999999999999", main=None))
s.send(event(protocol.POOL_WORKER_EXIT, worker=protocol.PID_MAX, exitcode=-255,
             pending=[{"job": protocol.COUNT_MAX, "site": None, "left": -protocol.COUNT_MAX,
                       "chunksize": 0, "length": None}] * protocol.MAX_ITEMS))
s.send(event(protocol.TIMER, which="real", remaining=protocol.SECONDS_MAX, interval=0,
             mono=0, site=None))
print("sent", len(ZOO) + 5, flush=True)
