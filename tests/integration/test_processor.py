"""Processor against moto: ``die()`` notifications and the account id from STS."""


import boto3
import pytest

from sosw.app import Processor
from tests.integration.conftest import received, subscribed_queue


def test_die_publishes_to_the_dead_topic_and_raises():
    queue = subscribed_queue("SoswWorkerErrors")
    processor = Processor()
    processor.stats["rows_done"] = 7

    with pytest.raises(SystemExit) as exit_info:
        processor.die("database unreachable")

    assert exit_info.value.code == 1

    [published] = received(queue)
    assert published["TopicArn"].endswith(":SoswWorkerErrors")
    assert published["Subject"] == "Some Function died"  # no AWS_LAMBDA_FUNCTION_NAME
    assert "database unreachable" in published["Message"]
    assert "'rows_done': 7" in published["Message"]


def test_die_uses_the_configured_topic(monkeypatch):
    default_queue = subscribed_queue("SoswWorkerErrors")
    custom_queue = subscribed_queue("my_alarms")
    monkeypatch.setattr("sosw.app.get_config", lambda name, test=False: {})
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_worker")
    processor = Processor(custom_config={"dead_sns_topic": "my_alarms"})

    with pytest.raises(SystemExit):
        processor.die("out of memory")

    assert received(default_queue) == []
    [published] = received(custom_queue)
    assert published["Subject"] == "my_worker died"
    assert "out of memory" in published["Message"]


def test_die_exits_even_when_the_topic_is_missing(caplog):
    with pytest.raises(SystemExit):
        Processor().die("no topic")

    assert "could not publish to SNS topic SoswWorkerErrors" in caplog.text


def test_account_falls_back_to_sts():
    expected = boto3.client("sts").get_caller_identity()["Account"]

    processor = Processor()

    assert processor._account == expected
    assert len(expected) == 12 and expected.isdigit()
    assert processor._region == "us-west-2"
