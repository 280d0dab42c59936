"""SnsManager against moto: what reaches a topic is read back through an SQS queue subscribed to it."""

import gc
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError

from sosw.app import LambdaGlobals, Processor, get_lambda_handler
from sosw.components.sns import AUTOTEST_RECIPIENT, MAX_MESSAGE_BYTES, SEPARATOR, SnsManager
from sosw.exceptions import InvalidInput
from tests.integration.conftest import drain, received, subscribe_queue


def published(queue_url: str, raw: bool = False) -> list:
    """Everything delivered to the queue so far: ``(subject, message)`` pairs, or bodies when ``raw``."""
    if raw:
        return drain(queue_url)
    return [(envelope.get("Subject"), envelope["Message"]) for envelope in received(queue_url)]


@pytest.fixture
def topic():
    arn = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
    return SimpleNamespace(arn=arn, queue=subscribe_queue(arn, "alerts_inbox"))


def test_messages_are_batched_until_commit(topic):
    sns = SnsManager(config={"recipient": topic.arn, "subject": "Nightly job"})

    sns.send_message("first")
    sns.send_message("second")
    sns.send_message("third")
    assert published(topic.queue) == []

    sns.commit()

    assert published(topic.queue) == [("Nightly job", SEPARATOR.join(["first", "second", "third"]))]
    assert sns.queue == []
    assert dict(sns.stats) == {"sns_messages_queued": 3, "sns_messages_published": 3, "sns_publish_calls": 1}

    sns.commit()  # nothing queued: nothing published
    assert published(topic.queue) == []


def test_new_subject_commits_the_queue_under_the_old_one(topic):
    sns = SnsManager(config={"recipient": topic.arn})

    sns.send_message("a", subject="First")
    sns.send_message("b")
    sns.send_message("c", subject="First")
    sns.send_message("d", subject="Second")
    assert published(topic.queue) == [("First", SEPARATOR.join(["a", "b", "c"]))]

    sns.set_subject("Third")
    assert published(topic.queue) == [("Second", "d")]

    sns.send_message("e")
    sns.commit()
    assert published(topic.queue) == [("Third", "e")]


def test_new_recipient_commits_the_queue_to_the_old_one(topic):
    other_arn = boto3.client("sns").create_topic(Name="other")["TopicArn"]
    other_queue = subscribe_queue(other_arn, "other_inbox")
    sns = SnsManager(config={"recipient": topic.arn, "subject": "s"})

    sns.send_message("for alerts")
    sns.set_recipient(other_arn)
    sns.send_message("for other")
    sns.commit()

    assert published(topic.queue) == [("s", "for alerts")]
    assert published(other_queue) == [("s", "for other")]


@pytest.mark.parametrize("flag", ["forse_commit", "force_commit"])
def test_force_commit_publishes_at_once(topic, flag):
    sns = SnsManager(config={"recipient": topic.arn, "subject": "s"})
    sns.send_message("queued")

    sns.send_message("urgent", **{flag: True})

    assert published(topic.queue) == [("s", SEPARATOR.join(["queued", "urgent"]))]
    assert sns.queue == []


def test_subject_is_required(topic):
    sns = SnsManager(config={"recipient": topic.arn})

    with pytest.raises(ValueError, match="subject") as err:
        sns.send_message("no subject")

    assert isinstance(err.value, InvalidInput) and err.value.field == "subject"
    assert sns.queue == []


def test_recipient_is_required_outside_test_mode():
    sns = SnsManager(config={"subject": "s"})

    with pytest.raises(ValueError, match="recipient"):
        sns.send_message("nowhere to go")


def test_subject_is_trimmed_to_the_sns_limit(topic):
    sns = SnsManager(config={"recipient": topic.arn})

    sns.send_message("body", subject="S" * 150 + "\nsecond line", force_commit=True)

    assert published(topic.queue) == [("S" * 100, "body")]


def test_large_queue_is_split_into_messages_within_256_kib():
    arn = boto3.client("sns").create_topic(Name="big")["TopicArn"]
    queue = subscribe_queue(arn, "big_inbox", raw=True)  # raw: the SNS envelope would not fit in an SQS message
    sns = SnsManager(config={"recipient": arn, "subject": "big"})
    messages = [chr(ord("a") + i) * 100 * 1024 for i in range(5)]

    for message in messages:
        sns.send_message(message)
    sns.commit()

    bodies = sorted(published(queue, raw=True))
    assert bodies == [SEPARATOR.join(messages[0:2]), SEPARATOR.join(messages[2:4]), messages[4]]
    assert all(len(body.encode()) <= MAX_MESSAGE_BYTES for body in bodies)
    assert sns.stats["sns_publish_calls"] == 3
    assert sns.stats["sns_messages_published"] == 5


def test_single_message_over_256_kib_is_split_on_character_boundaries():
    arn = boto3.client("sns").create_topic(Name="huge")["TopicArn"]
    queue = subscribe_queue(arn, "huge_inbox", raw=True)
    sns = SnsManager(config={"recipient": arn, "subject": "huge"})
    # The two-byte "é" straddles the limit: it must move whole to the second part.
    head, tail = "x" * (MAX_MESSAGE_BYTES - 1), "é" + "y" * 1000

    sns.send_message(head + tail, force_commit=True)

    assert sorted(published(queue, raw=True)) == [head, tail]
    assert sns.queue == []


def test_nothing_is_lost_when_the_topic_is_missing():
    arn = "arn:aws:sns:us-west-2:123456789012:not_yet"
    sns = SnsManager(config={"recipient": arn, "subject": "s"})
    sns.send_message("one")
    sns.send_message("two")

    with pytest.raises(ClientError) as err:
        sns.commit()
    assert err.value.response["Error"]["Code"] == "NotFound"
    assert sns.queue == ["one", "two"]

    assert boto3.client("sns").create_topic(Name="not_yet")["TopicArn"] == arn
    queue = subscribe_queue(arn, "late_inbox")
    sns.commit()

    assert published(queue) == [("s", SEPARATOR.join(["one", "two"]))]
    assert sns.queue == []


def test_failure_midway_keeps_only_the_unpublished_messages(topic):
    client = boto3.client("sns")
    calls = []

    def fail_second_publish(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("network down")

    client.meta.events.register("before-call.sns.Publish", fail_second_publish)
    raw_queue = subscribe_queue(topic.arn, "raw_inbox", raw=True)
    sns = SnsManager(config={"recipient": topic.arn, "subject": "s"}, client=client)
    messages = [chr(ord("a") + i) * 200 * 1024 for i in range(3)]  # one SNS message each
    for message in messages:
        sns.send_message(message)

    with pytest.raises(ConnectionError):
        sns.commit()
    assert published(raw_queue, raw=True) == [messages[0]]
    assert sns.queue == messages[1:]

    sns.commit()
    assert sorted(published(raw_queue, raw=True)) == messages[1:]
    assert sns.stats["sns_messages_published"] == 3
    published(topic.queue)  # drained: the enveloped copies do not concern this test


def test_test_mode_sends_to_the_autotest_topic_and_not_at_collection(topic, monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    sns = SnsManager(config={"recipient": topic.arn, "subject": "s"})

    assert sns.recipient == AUTOTEST_RECIPIENT == "arn:aws:sns:us-west-2:000000000000:autotest_topic"
    sns.send_message("hello")
    del sns
    gc.collect()

    assert published(topic.queue) == []


def test_create_topic_and_subscription():
    sns = SnsManager(config={"subject": "s"})
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="created_inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    arn = sns.create_topic("created")
    subscription = sns.create_subscription(arn, "sqs", queue_arn)

    client = boto3.client("sns")
    assert arn in [t["TopicArn"] for t in client.list_topics()["Topics"]]
    subscriptions = client.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [(s["SubscriptionArn"], s["Endpoint"]) for s in subscriptions] == [(subscription, queue_arn)]


def test_queue_is_committed_when_the_manager_is_collected(topic):
    sns = SnsManager(config={"recipient": topic.arn, "subject": "s"})
    sns.send_message("left behind")

    del sns
    gc.collect()

    assert published(topic.queue) == [("s", "left behind")]


def test_queue_is_committed_when_the_process_exits(topic):
    code = textwrap.dedent(f"""
        from sosw.components.sns import SnsManager

        sns = SnsManager(config={{'recipient': {topic.arn!r}, 'subject': 'exit'}})
        sns.send_message('sent at exit')
        import sys
        sys.modules['__main__'].keep = sns  # alive until the interpreter exits
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=root)

    assert result.returncode == 0, result.stderr
    assert published(topic.queue) == [("exit", "sent at exit")]


def test_lambda_handler_commits_after_every_invocation(topic):
    class Notifier(Processor):
        DEFAULT_CONFIG = {"init_clients": ["Sns"], "sns_config": {"recipient": topic.arn, "subject": "Notifier"}}

        def __call__(self, event):
            self.sns_client.send_message(event["text"])
            return "ok"

    global_vars = LambdaGlobals()
    handler = get_lambda_handler(Notifier, global_vars)
    context = SimpleNamespace(invoked_function_arn="arn:aws:lambda:us-west-2:123456789012:function:notifier")

    assert handler({"text": "first call"}, context) == "ok"
    assert published(topic.queue) == [("Notifier", "first call")]
    assert handler({"text": "second call"}, context) == "ok"
    assert published(topic.queue) == [("Notifier", "second call")]

    stats = global_vars.processor.get_stats()
    assert stats["total_sns_messages_published"] == 2
    assert stats["total_sns_messages_queued"] == 2
