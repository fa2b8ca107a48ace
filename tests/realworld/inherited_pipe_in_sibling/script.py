"""The parent streams records to a reader child over a Pipe and closes its end to say
"no more": the reader reads until EOFError.  But a cache-warming helper was started with
fork after the Pipe was created, so it inherited a copy of the write end and keeps it open
for as long as it lives (it waits for jobs the parent sends after the reader is done).  EOF
never comes; the parent waits for the reader, the reader for EOF, the helper for a job.
With spawn or forkserver the helper does not inherit the pipe, and the program ends.

Rewritten from Bogdanp/dramatiq#707 (the write end of a pipe stays open in another process
after fork, so a read never sees EOF) and dimitri/pgcopydb#563 (pipe descriptors left open
in the forking process keep EOF from being delivered)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def warm_cache(jobs):
    for job in iter(jobs.get, None):
        print("warming", job, flush=True)


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
    jobs = CTX.Queue()
    helper = CTX.Process(target=warm_cache, args=(jobs,))
    helper.start()                     # with fork it inherits writer_end
    reader = CTX.Process(target=read_records, args=(reader_end, writer_end))
    reader.start()
    reader_end.close()
    for i in range(3):
        writer_end.send({"record": i})
    writer_end.close()                 # "no more records" -- but the helper has a copy
    reader.join()
    jobs.put("index pages")
    jobs.put(None)
    helper.join()
