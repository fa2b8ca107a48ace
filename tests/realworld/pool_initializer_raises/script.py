"""Each Pool worker opens its database connection in the initializer, and the initializer
raises (the database URL is wrong).  The worker dies, the Pool starts a replacement, which
dies the same way, and so on: map() never returns and the program prints one traceback per
respawned worker for ever.

Rewritten from python/cpython#87472 (bpo-43306: "Error in multiprocessing.Pool's initializer
doesn't stop execution")."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def connect():
    raise ConnectionError("could not connect to postgres://db.invalid/jobs")


def lookup(key):
    return key.upper()


if __name__ == "__main__":
    with CTX.Pool(2, initializer=connect) as pool:
        print(pool.map(lookup, ["a", "b", "c"]))
