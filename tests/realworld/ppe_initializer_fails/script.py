"""The ProcessPoolExecutor's initializer loads a tokenizer file that is missing and raises.
Since Python 3.7 an initializer failure breaks the executor: the worker exits, pending work
fails with BrokenProcessPool ("A child process terminated abruptly, the process pool is not
usable anymore"), and the real error is only in the worker's traceback on stderr.

Rewritten from joblib/joblib#1525 (an initializer that raises ends in TerminatedWorkerError,
with the initializer's traceback printed before it) and temporalio/sdk-python#245
(BrokenProcessPool leaves the ProcessPoolExecutor unusable)."""
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def load_tokenizer():
    with open("/nonexistent/tokenizer.json") as f:
        f.read()


def tokenize(text):
    return text.split()


if __name__ == "__main__":
    with ProcessPoolExecutor(max_workers=2, mp_context=CTX, initializer=load_tokenizer) as pool:
        print(list(pool.map(tokenize, ["a b", "c d"])))
