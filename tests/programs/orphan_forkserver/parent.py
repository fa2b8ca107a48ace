"""A parent that runs a child program and reads all its output (``subprocess.run``).

The child uses a forkserver Pool; when the child exits, its forkserver sees end of file on its
"alive" pipe and exits too, running the atexit handlers of the modules it preloaded.  One of
them takes a while: meanwhile the orphaned forkserver (re-parented away from the child) still
holds the child's stdout and stderr, so the parent's read ends only when it has finished.
Nothing is stuck: the forkserver runs.

    python parent.py [SECONDS]
"""

import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
seconds = sys.argv[1] if len(sys.argv) > 1 else "3"
# from the child's folder: before Python 3.14 the forkserver imports its preloaded modules
# with the default sys.path, whose first entry is the working directory
r = subprocess.run([sys.executable, os.path.join(here, "child.py"), seconds],
                   capture_output=True, text=True, cwd=here)
print(f"child exited {r.returncode}: {r.stdout.strip()}")
sys.exit(r.returncode)
