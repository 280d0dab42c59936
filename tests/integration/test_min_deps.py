"""
The declared minimum of boto3/botocore (``BOTO3_FLOOR`` of setup.py) does what sosw needs from it: it reads
``AWS_ENDPOINT_URL`` (the embedded runtime's only way in; boto3 1.26 ignored it and went to real AWS) and knows
S3's ``IfNoneMatch`` (the Scheduler's queue lock; "Unknown parameter" before botocore 1.35.2).

pip installs exactly the floor from the package index into a folder that goes first on ``sys.path`` of a subprocess,
which checks those two, then runs the unit and compatibility suites against the floor.
"""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

FLOOR = re.search(r'BOTO3_FLOOR = "([\d.]+)"', (ROOT / "setup.py").read_text())[1]
# boto3 of the floor accepts s3transfer >=0.10.0,<0.11.0.
PINS = [f"boto3=={FLOOR}", f"botocore=={FLOOR}", "s3transfer==0.10.4"]

CHECK = textwrap.dedent("""
    import boto3, botocore, sosw.scheduler

    assert botocore.__version__ == "{floor}", botocore.__version__
    s3 = boto3.client("s3")
    assert s3.meta.endpoint_url == "http://127.0.0.1:9", s3.meta.endpoint_url
    assert "IfNoneMatch" in s3.meta.service_model.operation_model("PutObject").input_shape.members
    print("ok")
""")


@pytest.fixture(scope="module")
def floor_environment(tmp_path_factory):
    """The environment of a subprocess that imports boto3 and botocore of the floor (and sosw of this checkout)."""
    target = tmp_path_factory.mktemp("floor")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), *PINS],
                   check=True, capture_output=True, timeout=300)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}


def test_the_declared_minimum_boto3_reads_the_endpoint_and_knows_if_none_match(floor_environment):
    env = {**floor_environment, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", CHECK.format(floor=FLOOR)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_unit_and_compatibility_suites_pass_on_the_declared_minimum(floor_environment):
    # The docs build and the type check do not exercise boto3 at run time; they stay with the suite's own run.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit", "tests/compat",
         "--ignore", "tests/unit/test_docs_build.py", "--ignore", "tests/unit/test_typing.py"],
        env=floor_environment, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
