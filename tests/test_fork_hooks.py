"""What a forked child says of the pipes and sockets it inherited (hooks/processes.py): the
first 64, and a last "..." when it did not look at every fd (then absence proves nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_a_forked_child_lists_what_it_inherited_and_says_when_it_did_not_look_at_all(tmp_path):
    program = textwrap.dedent('''
        import json, os, sys
        from mpdoctor.hooks import processes
        few = processes.inherited()
        pipes = [os.pipe() for _ in range(int(sys.argv[1]))]
        many = processes.inherited()
        print(json.dumps((few, many, ["pipe:[%d]" % os.fstat(pipes[0][0]).st_ino])))
    ''')
    script = tmp_path / "p.py"
    script.write_text(program)
    run = subprocess.run([sys.executable, str(script), "200"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    few, many, first = json.loads(run.stdout)
    assert "..." not in few.split()
    assert many.split()[-1] == "..." and first[0] in many.split()  # 64 named, then "..."
