"""
Integration fixtures: one moto server per session on 127.0.0.1, reached over HTTP by unmodified boto3.

- ``moto_server``: the running server (session scope).
- ``aws``: autouse; points boto3 at the server for the test and resets the server afterwards.
- ``sosw_tables``: creates the shared sosw tables and the config table (schemas from ``sosw.constants``).
- ``make_table(spec)``: creates any table from CreateTable arguments.
"""


import json

import boto3
import pytest

from sosw import constants
from sosw.local.moto_server import MotoServer


@pytest.fixture(scope="session")
def moto_server():
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def aws(moto_server, monkeypatch):
    for name, value in moto_server.environ().items():
        monkeypatch.setenv(name, value)
    yield moto_server
    moto_server.reset()


@pytest.fixture
def make_table(aws):
    client = boto3.client("dynamodb")

    def make(spec: dict) -> str:
        client.create_table(**spec)
        return spec["TableName"]

    return make


@pytest.fixture
def sosw_tables(make_table):
    """The shared sosw tables and the ``config`` table, empty."""
    for spec in constants.TABLE_SCHEMAS.values():
        make_table(spec)
    return {name: name for name in constants.TABLE_SCHEMAS}


@pytest.fixture
def ddb(aws):
    """A plain boto3 DynamoDB client, for asserting what the tables hold."""
    return boto3.client("dynamodb")


def scan_all(table_name: str) -> list:
    """Every item of a table as plain Python values (Decimal for numbers)."""
    table = boto3.resource("dynamodb").Table(table_name)
    items, kwargs = [], {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def subscribe_queue(topic_arn: str, name: str, raw: bool = False) -> str:
    """An SQS queue subscribed to ``topic_arn`` (raw delivery if ``raw``); its URL. SNS messages are read from it."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true"} if raw else {}
    boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    return url


def subscribed_queue(topic_name: str) -> str:
    """Create SNS topic ``topic_name`` and an SQS queue subscribed to it; the queue URL."""
    topic_arn = boto3.client("sns").create_topic(Name=topic_name)["TopicArn"]
    return subscribe_queue(topic_arn, f"{topic_name}_inbox")


def drain(queue_url: str) -> list:
    """The bodies of every message waiting in the queue; the queue is left empty."""
    sqs = boto3.client("sqs")
    bodies = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def received(queue_url: str) -> list:
    """Every SNS notification waiting in the queue, as decoded envelopes; the queue is drained."""
    return [json.loads(body) for body in drain(queue_url)]
