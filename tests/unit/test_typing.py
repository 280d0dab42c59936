"""Types, as a user's type checker sees them: ``from sosw import Worker`` is a real class to mypy --strict."""

import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

USER_CODE = textwrap.dedent('''
    from typing import Any, Dict

    from sosw import Worker
    from sosw.app import LambdaGlobals, get_lambda_handler


    class Processor(Worker):
        def __call__(self, event: Dict[str, Any], reset_result: bool = True) -> Any:
            self.result["rows"] += 1
            return super().__call__(event, reset_result=reset_result)


    global_vars = LambdaGlobals()
    lambda_handler = get_lambda_handler(Processor, global_vars)
''')


def test_a_users_worker_passes_mypy_strict(tmp_path):
    user_file = tmp_path / "app.py"
    user_file.write_text(USER_CODE)
    # The package is found through MYPYPATH, as from site-packages: its own strictness is not the user's concern.
    environment = dict(os.environ, MYPYPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--cache-dir", str(tmp_path / "cache"),
         "--no-incremental", str(user_file)],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
