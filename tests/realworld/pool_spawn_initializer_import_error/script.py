"""The application builds a plugin module in memory (types.ModuleType, registered in
sys.modules) and gives its `setup` function to the Pool as initializer.  With fork the
workers share the parent's memory and it works.  With spawn or forkserver each worker
unpickles the initializer by name, "plugin_hooks.setup", and the module does not exist in
a fresh interpreter: ModuleNotFoundError at start, the Pool starts a replacement, which
fails the same way, for ever.

Rewritten from crits/crits#935 (Pool workers fail with an ImportError while unpickling their
task), internetarchive/openlibrary#12900 (spawned workers lack the configuration the parent
set up at run time and the container restarts endlessly) and celery/celery#10339 (spawn
workers that fail at start end in a kill/respawn loop)."""
import multiprocessing as mp
import os
import sys
import types

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)

PLUGIN_SOURCE = '''
def setup():
    global READY
    READY = True
'''


def lookup(key):
    return key.upper()


if __name__ == "__main__":
    plugin = types.ModuleType("plugin_hooks")
    exec(PLUGIN_SOURCE, plugin.__dict__)
    sys.modules["plugin_hooks"] = plugin
    with CTX.Pool(2, initializer=plugin.setup) as pool:
        print(pool.map(lookup, ["a", "b", "c"]))
