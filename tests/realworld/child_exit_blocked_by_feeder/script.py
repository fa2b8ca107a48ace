"""A dispatcher process owns a Queue of tasks for the consumer it starts.  The consumer
crashes on its first task.  The dispatcher keeps putting tasks (put() never blocks: a
feeder thread writes them into the pipe later) and returns.  At exit, the dispatcher's
Queue finalizer waits for the feeder to flush everything into a pipe that nobody reads any
more, so the dispatcher never exits, and the parent waits in join() for it.

Rewritten from NVIDIA/multi-storage-client#178 (workers stop consuming; the feeder blocks
on the pipe and Queue's exit-time _finalize_join never returns) and log2timeline/plaso#399
(a process completes but does not exit)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def consume(tasks):
    task = tasks.get()
    raise ValueError(f"cannot decode task of {len(task)} bytes")


def dispatch():
    tasks = CTX.Queue()
    consumer = CTX.Process(target=consume, args=(tasks,))
    consumer.start()
    for _ in range(50):
        tasks.put(b"t" * 10_000)
    consumer.join()
    print("consumer exited with", consumer.exitcode, flush=True)


if __name__ == "__main__":
    dispatcher = CTX.Process(target=dispatch)
    dispatcher.start()
    dispatcher.join()
    print("dispatcher done")
