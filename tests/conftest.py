"""
Shared test harness.

Unit tests (tests/unit) must not reach any network: boto3 is pointed at a closed port with fake credentials, so a
stray AWS call fails fast. Integration tests (tests/integration) get a moto server on 127.0.0.1 started once per
session, reset after every test.
"""

import os
from pathlib import Path

from sosw.local.moto_server import FAKE_CREDENTIALS

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"

# Set before any test module imports boto3-using code: no real credentials or endpoints may leak into the suite.
for _name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_LAMBDA_FUNCTION_NAME", "STAGE"):
    os.environ.pop(_name, None)
os.environ.update(FAKE_CREDENTIALS)
os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # discard port: unit tests reach nothing
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_MAX_ATTEMPTS"] = "2"
os.environ["AWS_RETRY_MODE"] = "standard"


def load_event(name: str):
    """A sample event kept as JSON under tests/events."""
    import json

    return json.loads((EVENTS / name).read_text())
