"""Workers store their results in a Manager().dict().  The parent reads the dict after the
`with Manager() as manager:` block, which has shut the manager process down: the proxy
tries to reconnect to a server that is gone and raises (FileNotFoundError or
ConnectionRefusedError, depending on the address family).

Rewritten from rix1337/FeedCrawler#742 (a Manager proxy used after the manager is gone:
ConnectionRefusedError from managers.py _connect) and python/cpython#88780 (errors in the
Manager's server when it is finalized while proxies are still in use)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def work(n, results):
    results[n] = n * n


if __name__ == "__main__":
    with CTX.Manager() as manager:
        results = manager.dict()
        workers = [CTX.Process(target=work, args=(n, results)) for n in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    print("results:", dict(results))   # the manager was shut down at the end of the block
