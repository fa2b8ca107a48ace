"""Each ProcessPoolExecutor worker loads its settings in the initializer; the settings file is
missing, so every worker's initializer raises and the worker dies at once.  The executor
breaks: map() raises BrokenProcessPool ("terminated abruptly"), which does not say why."""

import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor

SETTINGS = os.path.join(tempfile.gettempdir(), "mpdoctor-repro-missing", "settings.json")
_settings = {}


def load_settings(path):
    with open(path) as f:                  # FileNotFoundError in every worker
        _settings.update(json.load(f))


def score(x):
    return x * _settings.get("weight", 1)


if __name__ == "__main__":
    with ProcessPoolExecutor(max_workers=2, initializer=load_settings,
                             initargs=(SETTINGS,)) as pool:
        print(list(pool.map(score, range(8))))
