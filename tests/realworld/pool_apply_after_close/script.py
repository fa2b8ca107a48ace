"""A crawler closes its Pool in a `finally:` of its first batch, then a retry path submits
more work to the same Pool.  apply_async() on a closed pool raises ValueError("Pool not
running").

Rewritten from JeffWang987/OpenOccupancy#8 ("ValueError: Pool not running" from
po.apply_async in a generation script) and rwth-i6/sisyphus#164 (the same ValueError from
pool.apply_async at exit)."""
import multiprocessing as mp
import os

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def fetch(url):
    return url, 200 if "ok" in url else 503


def crawl(pool, urls):
    try:
        return [r.get() for r in [pool.apply_async(fetch, (u,)) for u in urls]]
    finally:
        pool.close()                   # meant for the last batch only


if __name__ == "__main__":
    pool = CTX.Pool(2)
    results = crawl(pool, ["http://a/ok", "http://b/down"])
    retry = [u for u, status in results if status != 200]
    print("retrying", retry, flush=True)
    print(crawl(pool, retry))          # ValueError: Pool not running
    pool.join()
