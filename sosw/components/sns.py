"""
Batched SNS notifications: messages queued with :meth:`SnsManager.send_message` are published together by
:meth:`SnsManager.commit`.

Unlike the original, which published only from ``__del__`` (never, in a warm Lambda container), the queue is committed
after every Lambda invocation by :func:`sosw.app.get_lambda_handler` (through ``Processor.flush``), when the manager is
garbage-collected, and when the process exits.

.. code-block:: python

    from sosw.components.sns import SnsManager

    sns = SnsManager(config={'recipient': 'arn:aws:sns:us-west-2:000000000000:alerts', 'subject': 'Nightly job'})
    sns.send_message('3 rows skipped')
    sns.send_message('2 rows failed')
    sns.commit()  # one SNS message with both lines
"""

import logging
import os
import weakref
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

import boto3
from botocore.config import Config

from sosw import constants
from sosw.components._boto import make_client
from sosw.exceptions import InvalidInput

logger = logging.getLogger(__name__)

__all__ = ["SnsManager"]

#: SNS refuses a message larger than 256 KiB (UTF-8 bytes).
MAX_MESSAGE_BYTES = 256 * 1024
#: SNS refuses a subject longer than 100 characters.
MAX_SUBJECT_LENGTH = 100
#: Put between queued messages when they are published as one.
SEPARATOR = "\n\n#############\n\n"


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


def _next_batch(queue: List[str]) -> Tuple[int, List[str]]:
    """How many queued messages the next publish takes, and the text(s) to publish for them.

    As many messages as fit in one SNS message are joined; a single message larger than the limit goes alone, split
    in several SNS messages.
    """
    first = len(queue[0].encode("utf-8"))
    if first > MAX_MESSAGE_BYTES:
        return 1, _split_bytes(queue[0], MAX_MESSAGE_BYTES)
    size, count = first, 1
    separator = len(SEPARATOR.encode("utf-8"))
    for message in queue[1:]:
        size += separator + len(message.encode("utf-8"))
        if size > MAX_MESSAGE_BYTES:
            break
        count += 1
    return count, [SEPARATOR.join(queue[:count])]


class _Outbox:
    """The state a finalizer needs to publish what a :class:`SnsManager` still holds after the manager is gone.

    Kept apart from the manager because a ``weakref.finalize`` callback must not reference the object it watches.
    """

    def __init__(self, recipient: Optional[str], subject: Optional[str], test: bool, client: Any,
                 boto3_session: Optional[boto3.session.Session], boto_config: Optional[Config]):
        self.recipient = recipient
        self.subject = subject
        self.test = test
        self.queue: List[str] = []
        self.stats: Dict[str, Any] = defaultdict(int)
        self.client = client
        self.boto3_session = boto3_session
        self.boto_config = boto_config

    def get_client(self) -> Any:
        if self.client is None:
            self.client = make_client("sns", boto3_session=self.boto3_session, boto_config=self.boto_config)
        return self.client

    def resolve_recipient(self) -> str:
        """The recipient; in test mode without one, the ``autotest_sosw_topic`` of the current account and region."""
        if not self.recipient:
            if not self.test:
                raise InvalidInput("no SNS topic ARN: set config['recipient'] or call set_recipient()",
                                   field="recipient")
            identity = make_client("sts", boto3_session=self.boto3_session,
                                   boto_config=self.boto_config).get_caller_identity()
            partition = identity["Arn"].split(":")[1]
            region = self.get_client().meta.region_name
            self.recipient = f"arn:{partition}:sns:{region}:{identity['Account']}:{constants.AUTOTEST_SNS_TOPIC}"
        return self.recipient

    def commit(self) -> None:
        if not self.queue:
            return
        recipient = self.resolve_recipient()
        subject = _clean_subject(self.subject) if self.subject else None
        client = self.get_client()
        while self.queue:
            count, texts = _next_batch(self.queue)
            for text in texts:
                kwargs = {"TopicArn": recipient, "Message": text}
                if subject:
                    kwargs["Subject"] = subject
                client.publish(**kwargs)
                self.stats["sns_publish_calls"] += 1
            # Dropped only once published: a failed publish leaves them queued for the next commit.
            del self.queue[:count]
            self.stats["sns_messages_published"] += count
        logger.debug("published queued messages to %s", recipient)


def _commit_on_finalize(outbox: _Outbox) -> None:
    """Last chance for queued messages: the manager was garbage-collected or the process is exiting."""
    if not outbox.queue:
        return
    try:
        outbox.commit()
    except Exception:  # nobody is left to catch it: report what is lost instead
        logger.exception("could not publish %d queued SNS message(s) to %s", len(outbox.queue), outbox.recipient)


class SnsManager:
    """AWS Simple Notification Service helper that batches messages to one topic.

    Messages given to :meth:`send_message` are queued and published as one SNS message (several if they exceed the
    256 KiB limit of SNS) by :meth:`commit`. Changing the recipient or the subject first commits what was queued for
    the previous one. The queue is committed after each Lambda invocation when the manager is a component of a
    Processor (``init_clients: ['Sns']``), when the manager is garbage-collected and when the process exits; call
    :meth:`commit` yourself elsewhere.

    The Role needs ``sns:Publish`` on the recipient topic (and ``sts:GetCallerIdentity`` in test mode without a
    recipient).

    :param config: ``{'recipient': <topic ARN>, 'subject': <default subject>}``.
    :param custom_config: Same as ``config``, the name Processors pass their components' config by.
    :param test: Test mode (also when the environment has ``STAGE=test`` or ``autotest``): without a recipient,
        messages go to topic ``autotest_sosw_topic`` of the current account and region.
    :param client: A boto3 SNS client to use instead of creating one when first needed.
    :param boto3_session: Session to create clients from.
    :param boto_config: botocore ``Config`` for the clients this manager creates.

    .. code-block:: python

        sns = SnsManager(config={'recipient': topic_arn})
        sns.send_message('Task 42 died', subject='sosw dead tasks')
        sns.send_message('Task 43 died')
        sns.send_message('Queue is empty', subject='sosw queue')  # commits the first two under their subject
        sns.commit()
        sns.stats['sns_messages_published']  # 3
    """

    def __init__(self, *, config: Optional[Dict] = None, custom_config: Optional[Dict] = None, test: bool = False,
                 client: Any = None, boto3_session: Optional[boto3.session.Session] = None,
                 boto_config: Optional[Config] = None, **kwargs):
        self.config = dict(config or custom_config or {})
        self.test = bool(test) or os.environ.get(constants.ENV_STAGE) in constants.TEST_STAGES
        self._outbox = _Outbox(self.config.get("recipient"), self.config.get("subject"), self.test, client,
                               boto3_session, boto_config)
        # Registered with ``atexit`` by ``weakref.finalize`` as well: a process exit commits the queue too.
        self._finalizer = weakref.finalize(self, _commit_on_finalize, self._outbox)

    @property
    def client(self) -> Any:
        """The boto3 SNS client, created when first needed."""
        return self._outbox.get_client()

    @property
    def recipient(self) -> Optional[str]:
        """ARN of the topic messages go to."""
        return self._outbox.recipient

    @recipient.setter
    def recipient(self, value: Optional[str]) -> None:
        self._outbox.recipient = value

    @property
    def subject(self) -> Optional[str]:
        """Subject of the messages queued now."""
        return self._outbox.subject

    @subject.setter
    def subject(self, value: Optional[str]) -> None:
        self._outbox.subject = value

    @property
    def queue(self) -> List[str]:
        """Messages waiting for :meth:`commit`."""
        return self._outbox.queue

    @property
    def stats(self) -> Dict[str, Any]:
        """Counters: ``sns_messages_queued``, ``sns_messages_published``, ``sns_publish_calls``."""
        return self._outbox.stats

    @stats.setter
    def stats(self, value: Dict[str, Any]) -> None:
        self._outbox.stats = value

    def set_recipient(self, recipient: str) -> None:
        """Send further messages to ``recipient``; what is queued for the previous one is committed first.

        :param recipient: ARN of an SNS topic.

        .. code-block:: python

            sns.set_recipient('arn:aws:sns:us-west-2:000000000000:other_topic')
        """
        if self.queue and recipient != self._outbox.recipient:
            self.commit()
        self._outbox.recipient = recipient

    def set_subject(self, subject: str) -> None:
        """Use ``subject`` for further messages; what is queued under the previous subject is committed first.

        :param subject: Subject of the SNS message, trimmed to 100 characters when published.

        .. code-block:: python

            sns.set_subject('Nightly job: warnings')
        """
        if self.queue and subject != self._outbox.subject:
            self.commit()
        self._outbox.subject = subject

    def send_message(self, message: str, subject: Optional[str] = None, forse_commit: bool = False, *,
                     force_commit: bool = False) -> None:
        """Queue ``message``. A new ``subject`` commits what was queued under the previous one.

        :param message: Body text; queued messages are published together, separated by a line of ``#``.
        :param subject: Subject for this and the following messages. Required if none is set yet.
        :param forse_commit: Commit right away (the original's spelling).
        :param force_commit: Same as ``forse_commit``.
        :raises InvalidInput: (a ``ValueError``) no subject or no recipient is set.

        .. code-block:: python

            sns.send_message('Disk is full', subject='Alert', force_commit=True)
        """
        if subject is not None and subject != self.subject:
            self.set_subject(subject)
        if not self.subject:
            raise InvalidInput("required: pass it here, in config['subject'] or with set_subject()", field="subject")
        if not self.recipient and not self.test:
            raise InvalidInput("no SNS topic ARN: set config['recipient'] or call set_recipient()", field="recipient")
        self.queue.append(str(message))
        self.stats["sns_messages_queued"] += 1
        if forse_commit or force_commit:
            self.commit()

    def commit(self) -> None:
        """Publish the queued messages to the recipient as one SNS message (several if they exceed 256 KiB).

        A message is removed from the queue only after it was published: if a publish fails, the exception
        propagates and the unpublished messages stay queued for the next commit.

        .. code-block:: python

            sns.commit()
            assert not sns.queue
        """
        self._outbox.commit()

    def create_topic(self, topic_name: str) -> str:
        """Create an SNS topic (or find the existing one of that name).

        :param topic_name: New topic name.
        :return: The topic ARN.

        .. code-block:: python

            arn = sns.create_topic('sosw_alerts')
        """
        return self.client.create_topic(Name=topic_name)["TopicArn"]

    def create_subscription(self, topic_arn: str, protocol: str, endpoint: str) -> str:
        """Subscribe ``endpoint`` to a topic.

        :param topic_arn: ARN of the topic.
        :param protocol: Type of the endpoint: ``'sqs'``, ``'lambda'``, ``'email'``, ``'https'``, ...
        :param endpoint: Endpoint that receives the notifications, e.g. an SQS queue ARN.
        :return: The subscription ARN (``'pending confirmation'`` for protocols that need one).

        .. code-block:: python

            sns.create_subscription(arn, 'sqs', 'arn:aws:sqs:us-west-2:000000000000:alerts')
        """
        response = self.client.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint,
                                         ReturnSubscriptionArn=True)
        return response["SubscriptionArn"]
