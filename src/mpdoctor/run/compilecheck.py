"""Does a file even compile as Python, for the interpreter that is to run it?

A text file that is not Python at all (``/etc/passwd``) is bad input for ``mpdoctor check``:
nothing should be started for it.  (A ``.py`` file with a syntax error is the script's own
failure, and Python reports it as usual.)
"""

from __future__ import annotations

import os
import sys

#: compiles a file the way the interpreter would run it; prints "line N: message" if it cannot
_COMPILE = ("import sys\n"
            "try:\n"
            "    compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec', dont_inherit=True)\n"
            "except SyntaxError as e:\n"
            "    print('line %s: %s: %s' % (e.lineno, type(e).__name__, e.msg)); sys.exit(3)\n"
            "except ValueError as e:\n"
            "    print('%s: %s' % (type(e).__name__, e)); sys.exit(3)\n")


def syntax_error(path: str, python: str) -> str:
    """Why ``python`` could not even compile the script ("" when it can, or cannot tell): a
    text file that is no Python (``/etc/passwd``) is bad input, not a run that failed."""
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        try:
            with open(path, "rb") as f:
                compile(f.read(), path, "exec", dont_inherit=True)
        except SyntaxError as e:
            return f"line {e.lineno}: {type(e).__name__}: {e.msg}"
        except (ValueError, OSError) as e:
            return f"{type(e).__name__}: {e}"
        return ""
    import subprocess
    try:
        r = subprocess.run([python, "-I", "-c", _COMPILE, path], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return r.stdout.decode("utf-8", "replace").strip() if r.returncode == 3 else ""
