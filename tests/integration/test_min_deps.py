"""
The declared minimum of boto3/botocore (``BOTO3_FLOOR`` of setup.py) does what sosw needs from it: it reads
``AWS_ENDPOINT_URL`` (the embedded runtime's only way in; boto3 1.26 ignored it and went to real AWS) and knows
S3's ``IfNoneMatch`` (the Scheduler's queue lock; "Unknown parameter" before botocore 1.35.2).

pip installs exactly the floor from the package index into a folder that goes first on ``sys.path`` of a subprocess.
"""

import os
import re
import subprocess
import sys
import textwrap

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


def test_the_declared_minimum_boto3_reads_the_endpoint_and_knows_if_none_match(tmp_path):
    target = tmp_path / "floor"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), *PINS],
                   check=True, capture_output=True, timeout=300)
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
           "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", CHECK.format(floor=FLOOR)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
