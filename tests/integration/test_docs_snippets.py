"""The documentation's examples that need AWS run here, against the session's moto server, each in its own process.

Each starts with the shared sosw tables created and empty, as on an account where sosw is deployed; whatever else
it needs (its own table, a topic) it creates itself. ``local_end_to_end.py`` starts servers of its own.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

AWS_SNIPPETS = sorted((ROOT / "docs" / "snippets" / "aws").glob("*.py"))


def test_there_are_aws_snippets():
    assert len(AWS_SNIPPETS) >= 10


@pytest.mark.parametrize("snippet", AWS_SNIPPETS, ids=[p.stem for p in AWS_SNIPPETS])
def test_aws_snippet_runs(snippet, sosw_tables):
    env = dict(os.environ)  # the aws fixture pointed it at moto
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, str(snippet)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, f"{snippet.name} failed:\n{result.stdout}\n{result.stderr}"


def test_the_worker_unit_test_runs_in_a_fresh_shell(tmp_path):
    """No AWS variable, no ~/.aws: the documented Worker test brings its own fake credentials and region."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    snippet = ROOT / "docs" / "snippets" / "aws" / "worker_test.py"
    result = subprocess.run([sys.executable, str(snippet)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
