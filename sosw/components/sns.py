"""
Batched SNS notifications: messages queued with :meth:`SnsManager.send_message` are published together by
:meth:`SnsManager.commit`.

Unlike the original, which published only from ``__del__`` (never, in a warm Lambda container), the queue is committed
after every Lambda invocation by :func:`sosw.app.get_lambda_handler` (through ``Processor.flush``), when the manager is
garbage-collected, and when the process exits (outside test mode).

.. code-block:: python

    from sosw.components.sns import SnsManager

    sns = SnsManager(recipient='arn:aws:sns:us-west-2:000000000000:alerts', subject='Nightly job')
    sns.send_message('3 rows skipped')
    sns.send_message('2 rows failed')
    sns.commit()  # one SNS message with both lines
"""

import json
import logging
import os
import weakref
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

import boto3
from botocore.config import Config

from sosw import constants
from sosw.components._boto import make_client
from sosw.exceptions import InvalidNotification

logger = logging.getLogger(__name__)

__all__ = ["SnsManager"]

#: SNS refuses a message larger than 256 KiB (UTF-8 bytes).
MAX_MESSAGE_BYTES = 256 * 1024
#: SNS refuses a subject longer than 100 characters.
MAX_SUBJECT_LENGTH = 100
#: Put between queued messages when they are published as one (the original's separator).
SEPARATOR = "\n\n#####\n\n"
#: Where messages go in test mode, whatever the config says: the original's autotest topic.
AUTOTEST_RECIPIENT = f"arn:aws:sns:us-west-2:000000000000:{constants.AUTOTEST_SNS_TOPIC}"


def _clean_subject(subject: str) -> str:
    """SNS wants an ASCII subject without line breaks or control characters, at most 100 characters long."""
    text = "".join(ch if ch.isprintable() else " " for ch in subject)
    return text.encode("ascii", "replace").decode("ascii").strip()[:MAX_SUBJECT_LENGTH]


def _split_bytes(text: str, limit: int) -> List[str]:
    """Cut ``text`` into pieces of at most ``limit`` UTF-8 bytes without splitting a character."""
    data = text.encode("utf-8")
    pieces = []
    while data:
        cut = min(limit, len(data))
        # A byte 0b10xxxxxx continues a multi-byte character: cut before the character starts instead.
        while cut < len(data) and data[cut] & 0xC0 == 0x80:
            cut -= 1
        pieces.append(data[:cut].decode("utf-8"))
        data = data[cut:]
    return pieces


def _next_batch(queue: List[str], separator: str) -> Tuple[int, List[str]]:
    """How many queued messages the next publish takes, and the text(s) to publish for them.

    As many messages as fit in one SNS message are joined; a single message larger than the limit goes alone, split
    in several SNS messages.
    """
    first = len(queue[0].encode("utf-8"))
    if first > MAX_MESSAGE_BYTES:
        return 1, _split_bytes(queue[0], MAX_MESSAGE_BYTES)
    size, count = first, 1
    separator_size = len(separator.encode("utf-8"))
    for message in queue[1:]:
        size += separator_size + len(message.encode("utf-8"))
        if size > MAX_MESSAGE_BYTES:
            break
        count += 1
    return count, [separator.join(queue[:count])]


def _commit_on_finalize(cls: type, state: Dict[str, Any]) -> None:
    """Last chance for queued messages: the manager was garbage-collected or the process is exiting.

    ``state`` is the manager's ``__dict__`` (a finalizer must not reference the object it watches): a bare instance
    is rebuilt around it, so attributes the user reassigned (``client``, ``queue``, ...) are the ones used.
    """
    if not state.get("queue") or state.get("test"):
        return  # in test mode the original never published from its destructor: tests must not send at exit
    manager: Any = object.__new__(cls)
    manager.__dict__ = state
    try:
        manager.commit()
    except Exception:  # nobody is left to catch it: report what is lost instead
        logger.exception("could not publish %d queued SNS message(s) to %s", len(state["queue"]),
                         state.get("recipient"))


class SnsManager:
    """AWS Simple Notification Service helper that batches messages to one topic.

    Messages given to :meth:`send_message` are queued and published as one SNS message (several if they exceed the
    256 KiB limit of SNS) by :meth:`commit`. Changing the recipient, the subject or the message attributes first
    commits what was queued under the previous ones, so messages with different attributes never share a publish.
    The queue is committed after each Lambda invocation when the manager is a component of a Processor
    (``init_clients: ['Sns']``), when the manager is garbage-collected and when the process exits; call
    :meth:`commit` yourself elsewhere.

    ``client``, ``queue``, ``recipient``, ``subject``, ``separator`` and ``message_attributes`` are plain attributes:
    tests may assign a mock to ``client``.

    In test mode (``test=True``, or ``STAGE`` is ``test`` or ``autotest``) the recipient is the autotest topic
    ``arn:aws:sns:us-west-2:000000000000:autotest_topic`` from construction on, whatever the config says, and
    nothing is published when the manager is collected.

    The Role needs ``sns:Publish`` on the recipient topic.

    :param recipient: ARN of the topic; ``config['recipient']`` if omitted.
    :param subject: Default subject; ``config['subject']`` if omitted.
    :param config: ``{'recipient': <topic ARN>, 'subject': <default subject>}``.
    :param custom_config: Same as ``config``, the name Processors pass their components' config by.
    :param test: Test mode, see above.
    :param region: AWS region of the client; the environment's if omitted.
    :param client: A boto3 SNS client to use instead of creating one.
    :param boto3_session: Session to create the client from.
    :param boto_config: botocore ``Config`` for the client this manager creates.

    .. code-block:: python

        sns = SnsManager(recipient=topic_arn)
        sns.send_message('Task 42 died', subject='sosw dead tasks')
        sns.send_message('Task 43 died')
        sns.send_message('Queue is empty', subject='sosw queue')  # commits the first two under their subject
        sns.commit()
        sns.stats['sns_messages_published']  # 3
    """

    def __init__(self, *, recipient: Optional[str] = None, subject: Optional[str] = None,
                 config: Optional[Dict] = None, custom_config: Optional[Dict] = None, test: bool = False,
                 region: Optional[str] = None, client: Any = None,
                 boto3_session: Optional[boto3.session.Session] = None, boto_config: Optional[Config] = None,
                 **kwargs: Any):
        self.config = dict(config or custom_config or {})
        self.test = bool(test) or os.environ.get(constants.ENV_STAGE) in constants.TEST_STAGES
        self.stats: Dict[str, Any] = defaultdict(int)
        self.recipient: Optional[str] = AUTOTEST_RECIPIENT if self.test else recipient or self.config.get("recipient")
        self.subject: Optional[str] = subject or self.config.get("subject")
        self.queue: List[str] = []
        self.separator: str = SEPARATOR
        #: ``MessageAttributes`` of the queued messages (plain values, see :meth:`get_message_attribute`).
        self.message_attributes: Optional[Dict[str, Any]] = None
        if client is None:
            if region:
                boto_config = Config(region_name=region) if boto_config is None else boto_config.merge(
                    Config(region_name=region))
            # Built here, not when first needed: ``with patch('boto3.client'): SnsManager()`` gets the mock.
            client = make_client("sns", boto3_session=boto3_session, boto_config=boto_config)
        self.client: Any = client
        # Registered with ``atexit`` by ``weakref.finalize`` as well: a process exit commits the queue too.
        weakref.finalize(self, _commit_on_finalize, type(self), self.__dict__)

    def set_client_attr(self, name: str, value: Any) -> None:
        """Set attribute ``name`` to ``value``; if that changes it, what is queued is committed first.

        :param name: ``'recipient'``, ``'subject'``, ``'message_attributes'``...
        :param value: The new value.

        .. code-block:: python

            sns.set_client_attr('subject', 'Nightly job: errors')
        """
        if getattr(self, name) != value:
            if self.queue:
                self.commit()
            setattr(self, name, value)

    def set_recipient(self, arn: str) -> None:
        """Send further messages to topic ``arn``; what is queued for the previous one is committed first.

        :param arn: ARN of an SNS topic.
        :raises InvalidNotification: ``arn`` is not an ARN.

        .. code-block:: python

            sns.set_recipient('arn:aws:sns:us-west-2:000000000000:other_topic')
        """
        if not isinstance(arn, str) or not arn.lower().startswith("arn:aws"):
            raise InvalidNotification(f"expected the ARN of an SNS topic, got {arn!r}", field="recipient", value=arn)
        self.set_client_attr("recipient", arn)

    def set_subject(self, value: str) -> None:
        """Use subject ``value`` for further messages; what is queued under the previous subject is committed first.

        :param value: Subject of the SNS message, trimmed to 100 characters when published.

        .. code-block:: python

            sns.set_subject('Nightly job: warnings')
        """
        self.set_client_attr("subject", str(value))

    def set_separator(self, separator: str) -> None:
        """Join the queued messages of one publish with ``separator`` (default: a line of ``#``).

        :param separator: Text put between messages.
        :raises InvalidNotification: ``separator`` is not text.

        .. code-block:: python

            sns.set_separator('\\n---\\n')
        """
        if not isinstance(separator, str):
            raise InvalidNotification(f"expected text, got {type(separator).__name__}", field="separator")
        self.separator = separator

    def set_message_attributes(self, message_attributes: Optional[Dict[str, Any]]) -> None:
        """Use ``message_attributes`` (for subscription filter policies) for the next publish; what is queued
        with other attributes is committed first.

        :param message_attributes: ``{name: value}``, values as :meth:`get_message_attribute` accepts; ``None`` for
            none.
        :raises InvalidNotification: ``message_attributes`` is not a dict.

        .. code-block:: python

            sns.set_message_attributes({'severity': 'high', 'retries': 3})
        """
        if message_attributes is not None and not isinstance(message_attributes, dict):
            raise InvalidNotification(f"expected a dict, got {type(message_attributes).__name__}",
                                field="message_attributes")
        self.set_client_attr("message_attributes", message_attributes)

    def compare_message_attributes(self, message_attributes: Optional[Dict[str, Any]]) -> None:
        """Make ``message_attributes`` the current ones if they differ, committing what was queued with the others.

        :param message_attributes: ``{name: value}``, or ``None`` for none.

        .. code-block:: python

            sns.compare_message_attributes({'severity': 'low'})
        """
        if self.message_attributes != message_attributes:
            self.set_message_attributes(message_attributes)

    #: The original's spelling of :meth:`compare_message_attributes`.
    compare_message_attributtes = compare_message_attributes

    @staticmethod
    def get_message_attribute(attribute: Any) -> Dict[str, str]:
        """An SNS ``MessageAttributeValue`` for a plain value: text is ``String``, a number ``Number``, another
        iterable ``String.Array`` (the types subscription filter policies compare).

        :param attribute: The value.
        :raises TypeError: The value is none of those.

        .. code-block:: python

            SnsManager.get_message_attribute(3)  # {'DataType': 'Number', 'StringValue': '3'}
        """
        if isinstance(attribute, str):
            return {"DataType": "String", "StringValue": attribute}
        if isinstance(attribute, (int, float)):
            return {"DataType": "Number", "StringValue": str(attribute)}
        if hasattr(attribute, "__iter__"):
            return {"DataType": "String.Array", "StringValue": json.dumps(list(attribute))}
        raise TypeError(f"message attribute: expected str, int, float or an iterable, got {type(attribute).__name__}")

    def send_message(self, message: str, subject: Optional[str] = None, forse_commit: bool = False,
                     message_attributes: Optional[Dict[str, Any]] = None, *, force_commit: bool = False) -> None:
        """Queue ``message``. A new ``subject`` or different ``message_attributes`` commit what was queued first.

        :param message: Body text; queued messages are published together, separated by ``separator``.
        :param subject: Subject for this and the following messages. Required if none is set yet.
        :param forse_commit: Commit right away (the original's spelling).
        :param message_attributes: ``MessageAttributes`` of this message as plain values (see
            :meth:`get_message_attribute`), for subscription filter policies; ``None`` for none.
        :param force_commit: Same as ``forse_commit``.
        :raises InvalidNotification: No subject or no recipient is set.

        .. code-block:: python

            sns.send_message('Disk is full', subject='Alert', message_attributes={'severity': 'high'},
                             force_commit=True)
        """
        if not (subject or self.subject):
            raise InvalidNotification("required: pass it here, as an argument of SnsManager() or with set_subject()",
                                field="subject")
        if not self.recipient:
            raise InvalidNotification("no SNS topic ARN: pass it to SnsManager() or call set_recipient()",
                                field="recipient")
        if subject:
            self.set_subject(subject)
        self.compare_message_attributes(message_attributes)
        self.queue.append(str(message))
        self.stats["sns_messages_queued"] += 1
        if forse_commit or force_commit:
            self.commit()

    def commit(self) -> None:
        """Publish the queued messages to the recipient as one SNS message (several if they exceed 256 KiB).

        A message is removed from the queue only after it was published: if a publish fails, the exception
        propagates and the unpublished messages stay queued (with their attributes) for the next commit.

        :raises InvalidNotification: Messages are queued but no recipient or no subject is set.

        .. code-block:: python

            sns.commit()
            assert not sns.queue
        """
        if not self.queue:
            return
        if not self.recipient:
            raise InvalidNotification("no SNS topic ARN: pass it to SnsManager() or call set_recipient()",
                                field="recipient")
        if not self.subject:
            raise InvalidNotification("required: pass it to send_message(), SnsManager() or set_subject()",
                                field="subject")
        extra: Dict[str, Any] = {}
        if self.message_attributes:
            extra["MessageAttributes"] = {
                key: self.get_message_attribute(value) for key, value in self.message_attributes.items()
            }
        subject = _clean_subject(self.subject)
        while self.queue:
            count, texts = _next_batch(self.queue, self.separator)
            for text in texts:
                self.client.publish(TopicArn=self.recipient, Subject=subject, Message=text, **extra)
                self.stats["sns_publish_calls"] += 1
            # Dropped only once published: a failed publish leaves them queued for the next commit.
            del self.queue[:count]
            self.stats["sns_messages_published"] += count
        self.message_attributes = None
        logger.debug("published queued messages to %s", self.recipient)

    def create_topic(self, topic_name: str) -> str:
        """Create an SNS topic (or find the existing one of that name).

        :param topic_name: New topic name.
        :return: The topic ARN.
        :raises InvalidNotification: ``topic_name`` is empty or not text; nothing was asked of AWS.

        .. code-block:: python

            arn = sns.create_topic('sosw_alerts')
        """
        if not topic_name or not isinstance(topic_name, str):
            raise InvalidNotification(f"expected a topic name, got {topic_name!r}", field="topic_name")
        return self.client.create_topic(Name=topic_name)["TopicArn"]

    def create_subscription(self, topic_arn: str, protocol: str, endpoint: str) -> str:
        """Subscribe ``endpoint`` to a topic.

        :param topic_arn: ARN of the topic.
        :param protocol: Type of the endpoint: ``'sqs'``, ``'lambda'``, ``'email'``, ``'https'``, ...
        :param endpoint: Endpoint that receives the notifications, e.g. an SQS queue ARN.
        :return: The subscription ARN (``'pending confirmation'`` for protocols that need one).
        :raises InvalidNotification: An argument is empty; nothing was asked of AWS.

        .. code-block:: python

            sns.create_subscription(arn, 'sqs', 'arn:aws:sqs:us-west-2:000000000000:alerts')
        """
        for field, value in (("topic_arn", topic_arn), ("protocol", protocol), ("endpoint", endpoint)):
            if not value:
                raise InvalidNotification("required to add a subscription", field=field)
        response = self.client.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint,
                                         ReturnSubscriptionArn=True)
        return response["SubscriptionArn"]
