"""A function mapped over a Pool starts a helper Process of its own (to talk to it over a
Pipe).  Pool workers are daemon processes, and daemon processes may not have children:
start() raises AssertionError in the worker, and map() raises it again in the parent.

Rewritten from sixty-north/multiprocessing_on_dill#4 (Process and Pipe inside a function
run by Pool.map: "daemonic processes are not allowed to have children") and
jina-ai/serve#4642 (an Executor, itself a daemonic process, cannot use multiprocessing.Pool)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def echo(conn):
    conn.send(conn.recv() * 2)


def featurize(x):
    ours, theirs = CTX.Pipe()
    helper = CTX.Process(target=echo, args=(theirs,))
    helper.start()                     # AssertionError inside a Pool worker
    ours.send(x)
    value = ours.recv()
    helper.join()
    return value


if __name__ == "__main__":
    with CTX.Pool(2) as pool:
        print(pool.map(featurize, range(4)))
