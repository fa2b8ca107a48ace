"""The parent streams records to a reader over a one-way Pipe and closes its end to say "no
more": the reader reads until EOFError.  A log helper was started with fork after the Pipe
was made, so it got a copy of the write end, and it keeps it open while it waits for the
summary line the parent sends after the reader is done.  End of file never comes.

The helper needs the fork start method to inherit the pipe (the default here; with spawn or
forkserver the program ends)."""

import multiprocessing as mp
import sys


def log(lines):
    for line in iter(lines.get, None):
        print("log:", line)


def read(records, writer):
    writer.close()                      # the reader closes the end it does not use
    count = 0
    while True:
        try:
            records.recv()
        except EOFError:                # only once every copy of the write end is closed
            break
        count += 1
    print("reader got", count, "records")


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else "fork")
    reader_end, writer_end = ctx.Pipe(duplex=False)
    lines = ctx.Queue()
    helper = ctx.Process(target=log, args=(lines,))
    helper.start()                      # forked now: it holds a copy of writer_end too
    reader = ctx.Process(target=read, args=(reader_end, writer_end))
    reader.start()
    reader_end.close()
    for i in range(3):
        writer_end.send({"record": i})
    writer_end.close()                  # "no more" -- but the helper's copy is still open
    reader.join()                       # never: the reader waits for end of file
    lines.put("3 records sent")
    lines.put(None)
    helper.join()
