"""COMPAT.md "Modules" and the ``@benchmark`` bullet: sigv4, decorators and components.exceptions as in 0.7.47."""

import datetime
import hashlib
import logging
import subprocess
import sys
from unittest.mock import MagicMock, call, patch
from urllib.parse import urlparse

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sosw.app import Processor
from sosw.components.benchmark import benchmark
from sosw.components.decorators import logging_wrapper, retry
from sosw.components.exceptions import EventNotFromSourceException
from sosw.components.sigv4 import AwsSigV4RequestGenerator
from tests.conftest import ROOT

URL = "https://search-logs.us-west-2.es.amazonaws.com/logs-2024/_search?size=10&q=level%3Aerror"
BODY = '{"query": {"match_all": {}}}'
SIGNED_AT = datetime.datetime(2024, 1, 2, 3, 4, 5)
CREDENTIALS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}


def make_generator(**kwargs):
    return AwsSigV4RequestGenerator(aws_service="es", aws_region="us-west-2", **CREDENTIALS, **kwargs)


def signed_at_fixed_time(generator, request):
    stamps = (SIGNED_AT.strftime("%Y%m%dT%H%M%SZ"), SIGNED_AT.strftime("%Y%m%d"))
    with patch.object(AwsSigV4RequestGenerator, "get_headers_and_credential_date", return_value=stamps):
        return generator(request)


def _botocore_clock_at(moment):
    """botocore's signing time frozen at ``moment``: newer releases ask ``get_current_datetime()``, the oldest that
    sosw supports ``datetime.datetime.utcnow()``."""
    import botocore.auth

    if hasattr(botocore.auth, "get_current_datetime"):
        return patch("botocore.auth.get_current_datetime", return_value=moment)
    clock = MagicMock(wraps=datetime)
    clock.datetime.utcnow.return_value = moment
    return patch("botocore.auth.datetime", clock)


def botocore_authorization(method, url, body, token=None):
    request = AWSRequest(method=method, url=url, data=body)
    with _botocore_clock_at(SIGNED_AT):
        SigV4Auth(
            Credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"], token),
            "es",
            "us-west-2",
        ).add_auth(request)
    return request.headers["Authorization"]


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLETOKEN"])
@pytest.mark.parametrize("method, body", [("POST", BODY), ("GET", None), ("PUT", BODY.encode())])
def test_aws_sig_v4_request_generator_signature_equals_botocores(method, body, token):
    prepared = requests.Request(method, URL, data=body).prepare()

    signed_at_fixed_time(make_generator(aws_session_token=token), prepared)

    assert prepared.headers["Authorization"] == botocore_authorization(method, URL, body, token)


def test_aws_sig_v4_request_generator_signs_a_requests_prepared_request():
    prepared = requests.Request("POST", URL, data=BODY, headers={"Content-Type": "application/json"}).prepare()

    assert signed_at_fixed_time(make_generator(aws_session_token="TOKEN"), prepared) is prepared

    headers = prepared.headers
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-west-2/es/aws4_request, "
        "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
    )
    assert headers["X-Amz-Date"] == "20240102T030405Z"
    assert headers["x-amz-security-token"] == "TOKEN"
    assert headers["x-amz-content-sha256"] == hashlib.sha256(BODY.encode()).hexdigest()
    assert headers["Content-Type"] == "application/json"  # the request's own headers stay


def test_aws_sig_v4_request_generator_works_as_requests_auth(original_tables, aws):
    """A DynamoDB call made with ``requests`` and this auth reaches the suite's moto server, which reads the region
    of the signature's credential scope: the tables of that region are listed."""

    def list_tables(**kwargs):
        response = requests.post(
            aws.endpoint,
            data="{}",
            headers={"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
            auth=AwsSigV4RequestGenerator(aws_service="dynamodb", **kwargs),  # credentials from the environment
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["TableNames"]

    assert sorted(list_tables()) == original_tables
    assert list_tables(aws_region="eu-central-1") == []


def test_aws_sig_v4_request_generator_has_the_original_helpers():
    generator = make_generator(aws_session_token="TOKEN")
    generator.amzdate, generator.datestamp = "20240102T030405Z", "20240102"
    parsed = urlparse(URL)

    assert generator.get_canonical_uri(parsed) == "/logs-2024/_search"
    assert generator.get_canonical_querystring(parsed) == "q=level%3Aerror&size=10"
    assert generator.get_canonical_headers(parsed) == (
        "host:search-logs.us-west-2.es.amazonaws.com\nx-amz-date:20240102T030405Z\nx-amz-security-token:TOKEN\n"
    )
    key = AwsSigV4RequestGenerator.sign(f"AWS4{CREDENTIALS['aws_secret_access_key']}".encode(), "20240102")
    for scope in ("us-west-2", "es", "aws4_request"):
        key = AwsSigV4RequestGenerator.sign(key, scope)
    assert generator.get_signature_key() == key
    assert generator.get_authorization_header("canonical", "host").startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-west-2/es/aws4_request, SignedHeaders=host, Signature="
    )


def test_aws_sig_v4_request_generator_reads_credentials_and_region_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "ENVTOKEN")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    generator = AwsSigV4RequestGenerator(aws_service="es")

    assert (generator.aws_access_key_id, generator.aws_secret_access_key) == ("ENVKEY", "ENVSECRET")
    assert (generator.aws_session_token, generator.aws_region) == ("ENVTOKEN", "eu-west-1")


@pytest.mark.parametrize(
    "kwargs, unset",
    [
        ({}, []),
        ({"aws_service": "es"}, ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]),
        ({"aws_service": "es", **CREDENTIALS}, ["AWS_REGION"]),
    ],
)
def test_aws_sig_v4_request_generator_raises_key_error_for_missing_settings(kwargs, unset, monkeypatch):
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(KeyError):
        AwsSigV4RequestGenerator(**kwargs)


def test_sigv4_module_does_not_need_requests():
    code = "import sys; sys.modules['requests'] = None; import sosw.components.sigv4; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.stdout.strip() == "ok", result.stderr


def test_logging_wrapper_logs_the_call_with_its_arguments(caplog):
    @logging_wrapper(logging.INFO)
    def foo(a, b, c=4, *arglist, **keywords):
        return a + b

    with caplog.at_level(logging.INFO):
        assert foo(1, 2, 3, 4, 5, t=6, z=7) == 3

    assert any(r.getMessage().endswith("foo with a=1, b=2, c=3, 4, 5, t=6, z=7") for r in caplog.records)
    assert foo.__name__ == "foo"


def test_logging_wrapper_leaves_self_out_and_defaults_to_info(caplog):
    class Importer:
        @logging_wrapper()
        def load(self, table):
            return table

    with caplog.at_level(logging.INFO):
        Importer().load(table="rows")

    record = caplog.records[-1]
    assert record.levelno == logging.INFO
    assert (
        record.getMessage() == "Running test_logging_wrapper_leaves_self_out_and_defaults_to_info.<locals>."
        "Importer.load with table=rows"
    )


def test_retry_retries_with_exponential_backoff():
    flaky = MagicMock(side_effect=[ConnectionError("down"), ConnectionError("still down"), "done"])
    decorated = retry(exception_to_check=ConnectionError, tries=4, delay=3, backoff=2)(flaky)

    with patch("time.sleep") as sleep:
        assert decorated("x", key=1) == "done"

    assert sleep.call_args_list == [call(3), call(6)]
    assert flaky.call_args_list == [call("x", key=1)] * 3


def test_retry_raises_after_the_last_try_and_ignores_other_exceptions():
    failing = MagicMock(side_effect=ConnectionError("down"))
    with patch("time.sleep") as sleep, pytest.raises(ConnectionError):
        retry((ConnectionError, TimeoutError), tries=3, delay=1, backoff=1)(failing)()
    assert failing.call_count == 3 and sleep.call_args_list == [call(1), call(1)]

    other = MagicMock(side_effect=KeyError("bug"))
    with patch("time.sleep") as sleep, pytest.raises(KeyError):
        retry(ConnectionError)(other)()
    assert other.call_count == 1 and not sleep.called


@pytest.mark.parametrize("kwargs", [{"tries": 0}, {"delay": -1}, {"backoff": 0.5}])
def test_retry_refuses_bad_parameters_with_assertion_error(kwargs):
    with pytest.raises(AssertionError):
        retry(**kwargs)


def test_event_not_from_source_exception_is_a_value_error():
    assert issubclass(EventNotFromSourceException, ValueError)
    with pytest.raises(ValueError, match="not from SNS"):
        raise EventNotFromSourceException("not from SNS")


def test_benchmark_records_calls_as_well_as_time():
    class Importer(Processor):
        @benchmark
        def load(self, rows):
            return len(rows)

    with patch("sosw.app.get_config", return_value={}), patch("boto3.client"):
        importer = Importer()
    importer.load([1, 2])
    importer.load([3])

    assert importer.stats["calls_load"] == 2
    assert importer.stats["time_load"] > 0
