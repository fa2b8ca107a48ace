"""Workers fill a Manager dict inside `with Manager()`; the results are read after the block.
Leaving the block shut the manager's server process down, and the proxy cannot reach it."""

import multiprocessing as mp


def work(shared, key):
    shared[key] = key * key


if __name__ == "__main__":
    with mp.Manager() as manager:
        results = manager.dict()
        workers = [mp.Process(target=work, args=(results, k)) for k in range(4)]
        for p in workers:
            p.start()
        for p in workers:
            p.join()
    print(sorted(results.items()))        # the manager is gone: the proxy call fails
