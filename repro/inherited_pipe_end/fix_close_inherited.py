"""The fix: start the helper before making the Pipe, so it has no copy of the write end to
keep; when the parent closes its end, the reader gets EOFError.  (Where the order cannot
change, the child that does not use an inherited end closes it first thing, as the reader
does with the end it does not use.)"""

import multiprocessing as mp
import sys


def log(lines):
    for line in iter(lines.get, None):
        print("log:", line)


def read(records, writer):
    writer.close()
    count = 0
    while True:
        try:
            records.recv()
        except EOFError:
            break
        count += 1
    print("reader got", count, "records")


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else "fork")
    lines = ctx.Queue()
    helper = ctx.Process(target=log, args=(lines,))
    helper.start()                      # before the Pipe exists: nothing to inherit
    reader_end, writer_end = ctx.Pipe(duplex=False)
    reader = ctx.Process(target=read, args=(reader_end, writer_end))
    reader.start()
    reader_end.close()
    for i in range(3):
        writer_end.send({"record": i})
    writer_end.close()
    reader.join()
    lines.put("3 records sent")
    lines.put(None)
    helper.join()
