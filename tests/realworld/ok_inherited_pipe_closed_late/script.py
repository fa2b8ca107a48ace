"""Control (finishes): as in the inherited-pipe hang, a helper started with fork after the
Pipe was created holds a copy of its write end, so the reader's EOF waits for the helper;
but this helper only has 3 s of work and then exits, and EOF arrives.

The benign form of Bogdanp/dramatiq#707 (EOF on a pipe arrives only when every process
holding its write end has closed it)."""
import multiprocessing as mp
import os
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def warm_cache():
    time.sleep(3)


def read_records(conn, unused_writer):
    unused_writer.close()              # the usual idiom: close the end this side does not use
    count = 0
    while True:
        try:
            conn.recv()
        except EOFError:
            break
        count += 1
    print("reader saw", count, "records", flush=True)


if __name__ == "__main__":
    reader_end, writer_end = CTX.Pipe(duplex=False)
    helper = CTX.Process(target=warm_cache)
    helper.start()
    reader = CTX.Process(target=read_records, args=(reader_end, writer_end))
    reader.start()
    reader_end.close()
    for i in range(3):
        writer_end.send({"record": i})
    writer_end.close()
    reader.join()
    helper.join()
