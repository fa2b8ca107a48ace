"""Three loader processes meet at a Barrier(3) before they start timing requests.  One of
them fails while it reads its configuration, before it reaches the barrier.  The other two
wait() without a timeout for a third party that will never come; the parent joins them.

Rewritten from SemiAnalysisAI/InferenceX#1102 (barrier.wait() without a timeout hangs the
run forever if a worker crashes before it reaches the barrier) and python/cpython#123899
(multiprocessing.Barrier does not return when a party is gone)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def load(n, barrier):
    if n == 2:
        raise KeyError("request_rate")  # bad configuration: never reaches the barrier
    barrier.wait()
    print("loader", n, "started", flush=True)


if __name__ == "__main__":
    barrier = CTX.Barrier(3)
    loaders = [CTX.Process(target=load, args=(n, barrier)) for n in range(3)]
    for p in loaders:
        p.start()
    for p in loaders:
        p.join()
    print("benchmark done")
