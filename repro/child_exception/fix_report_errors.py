"""The fix: the child catches what is wrong with a record and sends it back with its result,
so the parent can report exactly which record failed, and why, and decide what to do."""

import multiprocessing as mp


def stage(records, results):
    total, errors = 0, []
    for index, record in enumerate(records):
        try:
            total += record["amount"]
        except KeyError as exc:
            errors.append(f"record {index}: missing field {exc}")
    results.put((total, errors))


if __name__ == "__main__":
    records = [{"amount": 3}, {"id": 7}, {"amount": 4}]
    results = mp.Queue()
    p = mp.Process(target=stage, args=(records, results), name="summing-stage")
    p.start()
    total, errors = results.get()          # read before join (see join-before-drain)
    p.join()
    for error in errors:
        print("skipped", error)
    print("pipeline done, total", total)
