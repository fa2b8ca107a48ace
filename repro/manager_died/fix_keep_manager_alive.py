"""The fix: the results are copied out of the proxy (a plain dict) while the manager runs."""

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
        collected = dict(results)         # a copy, while the manager is still there
    print(sorted(collected.items()))
