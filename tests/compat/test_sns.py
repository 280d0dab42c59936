"""SnsManager as users' tests of sosw 0.7.47 drive it: ``patch('boto3.client')``, a MagicMock as ``client``."""

import gc
import unittest
from unittest.mock import MagicMock, call, patch

import pytest

from sosw.app import Processor
from sosw.components.sns import SnsManager

TOPIC = "arn:aws:sns:us-west-2:000000000000:alerts"
AUTOTEST_TOPIC = "arn:aws:sns:us-west-2:000000000000:autotest_topic"


@pytest.fixture
def sns():
    with patch("boto3.client"):
        manager = SnsManager(recipient=TOPIC, subject="Autotest SNS Subject")
    manager.client = MagicMock()
    return manager


def test_keyword_arguments_recipient_and_subject_are_honoured():
    with patch("boto3.client"):
        manager = SnsManager(recipient=TOPIC, subject="Nightly job")

    assert manager.recipient == TOPIC
    assert manager.subject == "Nightly job"


def test_client_is_built_in_init_so_patched_boto3_client_gives_the_mock():
    with patch("boto3.client") as boto3_client:
        manager = SnsManager(recipient=TOPIC, subject="s")

    assert manager.client is boto3_client.return_value
    manager.send_message("hello", forse_commit=True)
    boto3_client.return_value.publish.assert_called_once_with(TopicArn=TOPIC, Subject="s", Message="hello")


def test_client_and_queue_are_assignable_plain_attributes(sns):
    sns.queue = ["left", "over"]
    sns.send_message("new")
    sns.commit()

    sns.client.publish.assert_called_once_with(TopicArn=TOPIC, Subject="Autotest SNS Subject",
                                               Message="left\n\n#####\n\nover\n\n#####\n\nnew")
    assert sns.queue == []


def test_send_message_takes_the_original_parameters_by_name(sns):
    sns.send_message(message="one", subject="Autotest SNS Subject", forse_commit=True,
                     message_attributes={"severity": "high"})

    sns.client.publish.assert_called_once_with(
        TopicArn=TOPIC, Subject="Autotest SNS Subject", Message="one",
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "high"}},
    )


def test_send_message_accepts_force_commit_too(sns):
    sns.send_message("one", force_commit=True, message_attributes={"retries": 3})

    assert sns.client.publish.call_args.kwargs["MessageAttributes"] == {
        "retries": {"DataType": "Number", "StringValue": "3"},
    }


def test_messages_with_different_attributes_are_not_merged_into_one_publish(sns):
    sns.send_message("a", message_attributes={"kind": "dead"})
    sns.send_message("b", message_attributes={"kind": "dead"})
    sns.send_message("c", message_attributes={"kind": "retry"})
    sns.send_message("d")
    sns.commit()

    assert sns.client.publish.call_args_list == [
        call(TopicArn=TOPIC, Subject="Autotest SNS Subject", Message="a\n\n#####\n\nb",
             MessageAttributes={"kind": {"DataType": "String", "StringValue": "dead"}}),
        call(TopicArn=TOPIC, Subject="Autotest SNS Subject", Message="c",
             MessageAttributes={"kind": {"DataType": "String", "StringValue": "retry"}}),
        call(TopicArn=TOPIC, Subject="Autotest SNS Subject", Message="d"),
    ]


def test_set_message_attributes_commits_the_queue_and_applies_to_the_next_publish(sns):
    sns.send_message("before")
    sns.set_message_attributes(message_attributes={"tags": ["a", "b"]})

    sns.client.publish.assert_called_once_with(TopicArn=TOPIC, Subject="Autotest SNS Subject", Message="before")
    assert sns.message_attributes == {"tags": ["a", "b"]}
    with pytest.raises(AssertionError):
        sns.set_message_attributes("not a dict")


def test_get_message_attribute_types_values_for_filter_policies():
    assert SnsManager.get_message_attribute(attribute="text") == {"DataType": "String", "StringValue": "text"}
    assert SnsManager.get_message_attribute(2.5) == {"DataType": "Number", "StringValue": "2.5"}
    assert SnsManager.get_message_attribute(["a", 1]) == {"DataType": "String.Array", "StringValue": '["a", 1]'}
    with pytest.raises(TypeError):
        SnsManager.get_message_attribute(None)


def test_compare_message_attributtes_misspelt_alias_kept_beside_correct_spelling(sns):
    sns.compare_message_attributtes(message_attributes={"k": "v"})
    assert sns.message_attributes == {"k": "v"}

    sns.send_message("queued", message_attributes={"k": "v"})
    sns.compare_message_attributes({"k": "v"})  # the same: nothing committed
    sns.client.publish.assert_not_called()
    sns.compare_message_attributes({"k": "other"})
    assert sns.client.publish.call_count == 1
    assert sns.message_attributes == {"k": "other"}


def test_set_separator_joins_the_queue(sns):
    sns.set_separator(separator=" | ")
    sns.send_message("a")
    sns.send_message("b", forse_commit=True)

    sns.client.publish.assert_called_once_with(TopicArn=TOPIC, Subject="Autotest SNS Subject", Message="a | b")
    with pytest.raises(AssertionError):
        sns.set_separator(1)


def test_set_client_attr_commits_the_queue_when_the_value_changes(sns):
    sns.send_message("a")
    sns.set_client_attr(name="subject", value="Autotest SNS Subject")
    sns.client.publish.assert_not_called()

    sns.set_client_attr("subject", value="Another")

    sns.client.publish.assert_called_once_with(TopicArn=TOPIC, Subject="Autotest SNS Subject", Message="a")
    assert sns.subject == "Another"


def test_set_subject_takes_value(sns):
    sns.send_message("a")
    sns.set_subject(value="New subject")
    sns.send_message("b", forse_commit=True)

    assert [c.kwargs["Subject"] for c in sns.client.publish.call_args_list] == ["Autotest SNS Subject", "New subject"]


@pytest.mark.parametrize("arn", ["my_topic", "", None, 42])
def test_set_recipient_refuses_a_non_arn(sns, arn):
    with pytest.raises(AssertionError, match="recipient"):
        sns.set_recipient(arn=arn)

    assert sns.recipient == TOPIC


def test_create_topic_with_empty_name_refuses_without_calling_aws(sns):
    with pytest.raises(RuntimeError):
        sns.create_topic("")

    sns.client.create_topic.assert_not_called()


def test_create_subscription_with_empty_topic_refuses_without_calling_aws(sns):
    with pytest.raises(RuntimeError):
        sns.create_subscription("", "sqs", "arn:aws:sqs:us-west-2:000000000000:q")

    sns.client.subscribe.assert_not_called()


def test_send_message_without_subject_raises_runtime_error():
    with patch("boto3.client"):
        manager = SnsManager(recipient=TOPIC)

    with pytest.raises(RuntimeError, match="subject"):
        manager.send_message("no subject")


def test_in_test_mode_the_recipient_is_the_autotest_topic_from_construction(monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    with patch("boto3.client"):
        manager = SnsManager(config={"recipient": TOPIC, "subject": "s"})

    assert manager.recipient == AUTOTEST_TOPIC
    manager.client = MagicMock()
    manager.send_message("hello", forse_commit=True)
    manager.client.publish.assert_called_once_with(TopicArn=AUTOTEST_TOPIC, Subject="s", Message="hello")


def test_in_test_mode_nothing_is_published_when_the_object_is_collected(monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    client = MagicMock()
    with patch("boto3.client", return_value=client):
        manager = SnsManager(subject="s")
    manager.send_message("never sent")

    del manager
    gc.collect()

    client.publish.assert_not_called()


class SnsManagerInAProcessorTestCase(unittest.TestCase):
    """The unittest style: the component of a Processor built under ``patch('boto3.client')``."""

    def setUp(self):
        patcher = patch("sosw.app.get_config", return_value={})
        patcher.start()
        self.addCleanup(patcher.stop)  # also when the rest of setUp fails
        with patch("boto3.client"):
            self.processor = Processor(custom_config={
                "init_clients": ["Sns"], "sns_config": {"recipient": TOPIC, "subject": "Processor"},
            })
        self.processor.sns_client.client = MagicMock()

    def test_messages_are_joined_with_the_original_separator(self):
        self.processor.sns_client.send_message("first")
        self.processor.sns_client.send_message("second")
        self.processor.sns_client.commit()

        self.processor.sns_client.client.publish.assert_called_once_with(
            TopicArn=TOPIC, Subject="Processor", Message="first\n\n#####\n\nsecond")
