"""An ingest worker reads its input from a named pipe (FIFO) that an external exporter is
supposed to write to (`exporter > /tmp/.../feed.fifo`).  Opening a FIFO for reading blocks
until some process opens it for writing; the exporter was never started, so the worker
waits in open() and the parent waits in join().  Any process on the machine could still
open the FIFO: this waits on the outside world, it is not a deadlock.

Rewritten from kodedevil.com's "Using Blocking and Non-Blocking Linux FIFOs in Python"
(os.open() of a FIFO blocks until the other end is opened) and systemoflevers.com's "Named
Pipes to Turn CLI Programs Into Python Functions"."""
import multiprocessing as mp
import os
import tempfile

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def ingest(path):
    with open(path, "rb") as feed:    # blocks until a writer opens the FIFO
        print("ingested", len(feed.read()), "bytes", flush=True)


if __name__ == "__main__":
    fifo = os.path.join(tempfile.mkdtemp(prefix="ingest-"), "feed.fifo")
    os.mkfifo(fifo)
    try:
        proc = CTX.Process(target=ingest, args=(fifo,))
        proc.start()
        proc.join()
    finally:
        os.unlink(fifo)
        os.rmdir(os.path.dirname(fifo))
