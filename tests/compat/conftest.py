"""
Compatibility tests: written from ``COMPAT.md`` the way users' own tests exercise sosw 0.7.47.

They use ``unittest.mock`` where users do (``patch('boto3.client')``, ``patch('sosw.app.get_config')``, MagicMocks
assigned to ``*_client`` attributes) — that is the behaviour under test. Tests that need AWS take the ``aws`` fixture:
the suite's moto server on 127.0.0.1, reset after the test, with the original's table schemas from ``original_tables``.
"""

import boto3
import pytest

from sosw import constants
from tests.integration.conftest import moto_server  # noqa: F401 - the session's moto server


@pytest.fixture
def aws(moto_server, monkeypatch):  # noqa: F811 - the imported fixture is a dependency
    for name, value in moto_server.environ().items():
        monkeypatch.setenv(name, value)
    yield moto_server
    moto_server.reset()


@pytest.fixture
def original_tables(aws):
    """The tables of sosw 0.7.47 (same names, keys and indexes as the original's CloudFormation), empty."""
    client = boto3.client("dynamodb")
    for spec in constants.TABLE_SCHEMAS.values():
        client.create_table(**spec)
    return sorted(constants.TABLE_SCHEMAS)
