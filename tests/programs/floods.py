"""Floods mpdoctor's event socket from inside the watched tree with valid events of about 60 KB,
then prints mpdoctor's peak memory (VmHWM of its parent, in kB) and exits 0.

    python floods.py COUNT
"""

import json
import os
import socket
import sys
import time

from mpdoctor.hooks import boot, protocol

count = int(sys.argv[1])
addr = boot.decode(os.environ["MPDOCTOR_HOOKS"])["addr"]
# a pool-worker-exit whose pending list is full of long call sites: ~60 KB, and valid
pending = [{"job": i, "site": "/%s.py:1" % ("p" * 3990), "left": 1, "chunksize": 1,
            "length": 1} for i in range(15)]
payload = json.dumps({"ev": protocol.POOL_WORKER_EXIT, "pid": os.getpid(), "t": time.time(),
                      "worker": os.getpid(), "exitcode": 1, "pending": pending}).encode()
assert 55_000 < len(payload) <= protocol.MAX_DATAGRAM
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(addr)
t0 = time.monotonic()
for _ in range(count):
    s.send(payload)  # blocking: as fast as mpdoctor reads
took = time.monotonic() - t0


def hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])


print("flooded %d %d %.3f" % (count, hwm(os.getppid()), took), flush=True)
