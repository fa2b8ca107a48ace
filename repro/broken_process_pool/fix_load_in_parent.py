"""The fix: the parent loads the settings (a missing file is an ordinary error here, with a
clear traceback, before any worker starts) and hands the data to the workers' initializer."""

import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor

SETTINGS = os.path.join(tempfile.gettempdir(), "mpdoctor-repro-missing", "settings.json")
_settings = {}


def use_settings(settings):
    _settings.update(settings)


def score(x):
    return x * _settings.get("weight", 1)


if __name__ == "__main__":
    try:
        with open(SETTINGS) as f:
            settings = json.load(f)
    except FileNotFoundError:
        print(f"no settings at {SETTINGS}: using the defaults")
        settings = {"weight": 1}
    with ProcessPoolExecutor(max_workers=2, initializer=use_settings,
                             initargs=(settings,)) as pool:
        print(list(pool.map(score, range(8))))
