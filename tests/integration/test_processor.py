"""Processor against moto: ``die()`` notifications and the account id from STS."""

import json

import boto3
import pytest

from sosw.app import Processor


def subscribed_queue(topic_name: str) -> str:
    """Create ``topic_name`` and an SQS queue subscribed to it; returns the queue URL."""
    topic_arn = boto3.client("sns").create_topic(Name=topic_name)["TopicArn"]
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"{topic_name}_inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return url


def notifications(queue_url: str) -> list:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_die_publishes_to_the_dead_topic_and_raises():
    queue = subscribed_queue("SoswWorkerErrors")
    processor = Processor()
    processor.stats["rows_done"] = 7

    with pytest.raises(RuntimeError, match="database unreachable"):
        processor.die("database unreachable")

    [published] = notifications(queue)
    assert published["TopicArn"].endswith(":SoswWorkerErrors")
    assert published["Subject"] == "Processor died"
    assert "database unreachable" in published["Message"]
    assert "'rows_done': 7" in published["Message"]


def test_die_uses_the_configured_topic(monkeypatch):
    default_queue = subscribed_queue("SoswWorkerErrors")
    custom_queue = subscribed_queue("my_alarms")
    monkeypatch.setattr("sosw.app.get_config", lambda name, test=False: {})
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_worker")
    processor = Processor(custom_config={"dead_sns_topic": "my_alarms"})

    with pytest.raises(RuntimeError):
        processor.die("out of memory")

    assert notifications(default_queue) == []
    [published] = notifications(custom_queue)
    assert published["Subject"] == "my_worker died"
    assert "out of memory" in published["Message"]


def test_die_raises_even_when_the_topic_is_missing(caplog):
    with pytest.raises(RuntimeError, match="no topic"):
        Processor().die("no topic")

    assert "could not publish to SNS topic SoswWorkerErrors" in caplog.text


def test_account_falls_back_to_sts():
    expected = boto3.client("sts").get_caller_identity()["Account"]

    processor = Processor()

    assert processor._account == expected
    assert len(expected) == 12 and expected.isdigit()
    assert processor._region == "us-west-2"
