"""
The task event log: one item per event of a task (``created``, ``invoked``, ``completed``, ``archived``, ...) in
``sosw_tasks_meta`` (hash key ``task_id``, range key ``created_at``). Each event carries ``author`` (the function
that wrote it), ``invocation_id`` (its request id) and ``log_stream_name``, from the Lambda context of the current
invocation.

TaskManager writes the events in the same requests as the task changes they describe (in the same batch or
transaction), so the log costs almost no extra calls. The Essentials turn it on by default; TaskManager alone logs
only with ``meta_handler_config``. ``{'write_meta_to_ddb': False}`` in that config turns it off.

.. code-block:: python

    from sosw.managers.meta_handler import MetaHandler

    meta = MetaHandler()  # table sosw_tasks_meta
    meta.post(task_id='abc', action='invoked', labourer_id='my_worker')
    [event['action'] for event in meta.get_task_events('abc')]  # ['invoked']
"""

import logging
import os
import threading
import time
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional

from sosw import app, constants
from sosw.app import global_vars
from sosw.components.base import Component
from sosw.components.dynamo_db import DynamoDbClient
from sosw.components.helpers import to_bool
from sosw.exceptions import InvalidArgument

logger = logging.getLogger(__name__)

__all__ = ["MetaHandler", "global_vars"]


class MetaHandler(Component):
    """Writes and reads the event log of tasks.

    :param custom_config: Over ``DEFAULT_CONFIG``: ``dynamo_db_config`` (the table) and ``write_meta_to_ddb``
        (False: events are only logged). No config row is read.
    :param dynamo_db_client: The ``DynamoDbClient`` of the event log; one from ``dynamo_db_config`` if None. None
        when ``write_meta_to_ddb`` is off.
    :param test: Test mode.

    .. code-block:: python

        meta = MetaHandler(custom_config={'dynamo_db_config': {'table_name': 'my_tasks_meta'}})
        meta.post(task_id='abc', action='completed')
    """

    DEFAULT_CONFIG: Dict[str, Any] = {
        "write_meta_to_ddb": True,
        "dynamo_db_config": {
            "table_name": constants.META_TABLE,
            "hash_key": "task_id",
            "row_mapper": {"task_id": "S", "created_at": "N", "action": "S", "author": "S", "invocation_id": "S",
                           "log_stream_name": "S", "labourer_id": "S"},
            "required_fields": ["task_id", "created_at", "action"],
        },
    }

    #: Names to store instead of the actions posted, e.g. ``{'invoked': 'sent_to_worker'}``; empty by default.
    AVAILABLE_ACTIONS_MAPPING: Dict[str, str] = {}
    #: Fields of every event taken from the Lambda context: field -> attribute of the context.
    CONTEXT_FIELDS_MAPPINGS: Dict[str, str] = {
        "author": "function_name",
        "invocation_id": "aws_request_id",
        "log_stream_name": "log_stream_name",
    }

    dynamo_db_client: Any = None
    #: The Lambda context of the current invocation, if whoever runs the Lambda sets it; else it is read from
    #: ``global_vars`` (see :meth:`make_item`).
    lambda_context: Any = None
    _lock = threading.Lock()
    _last_stamp = Decimal(0)

    def __init__(self, custom_config: Optional[Mapping[str, Any]] = None, *, dynamo_db_client: Any = None,
                 test: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init__(custom_config, test=test)
        if not self.enabled:
            dynamo_db_client = None
        elif dynamo_db_client is None:
            dynamo_db_client = DynamoDbClient(config=self.config["dynamo_db_config"], test=self.test)
        self.dynamo_db_client = dynamo_db_client

    @property
    def enabled(self) -> bool:
        """Whether events are written to DynamoDB (``write_meta_to_ddb``), not only logged."""
        return to_bool(self.config.get("write_meta_to_ddb", True))

    @classmethod
    def _stamp(cls) -> Decimal:
        """A microsecond timestamp, strictly increasing within the process, so that two events of one task never
        share a range key."""
        with cls._lock:
            stamp = Decimal(f"{time.time():.6f}")
            if stamp <= cls._last_stamp:
                stamp = cls._last_stamp + Decimal("0.000001")
            cls._last_stamp = stamp
            return stamp

    @property
    def table_name(self) -> str:
        """The table of the event log."""
        return self.config["dynamo_db_config"]["table_name"]

    def _context(self) -> Any:
        """The Lambda context of the current invocation, read at call time: :attr:`lambda_context` if set, else the
        module-level ``global_vars`` (``sosw.app.global_vars``, which tests may replace)."""
        for context in (self.lambda_context, global_vars.lambda_context, app.global_vars.lambda_context):
            if context is not None:
                return context
        return None

    def make_item(self, task_id: str, action: str, **kwargs: Any) -> Dict[str, Any]:
        """The item of one event: ``task_id``, ``created_at``, ``action``, the fields of
        :attr:`CONTEXT_FIELDS_MAPPINGS` and any keyword arguments with a value.

        :param task_id: The task.
        :param action: What happened, e.g. ``'invoked'``.
        :raises ~sosw.exceptions.InvalidArgument: (an ``AssertionError``) a keyword argument names a field of the
            context.
        """
        reserved = sorted(set(kwargs) & set(self.CONTEXT_FIELDS_MAPPINGS))
        if reserved:
            raise InvalidArgument("is taken from the Lambda context; do not pass it", field=reserved[0])
        item: Dict[str, Any] = {
            "task_id": task_id,
            "created_at": self._stamp(),
            "action": str(self.AVAILABLE_ACTIONS_MAPPING.get(action, action)),
        }
        context = self._context()
        for field, attribute in self.CONTEXT_FIELDS_MAPPINGS.items():
            value = getattr(context, attribute, None)
            if value is not None:
                item[field] = value
        item.setdefault("author", os.environ.get(constants.ENV_FUNCTION_NAME) or "local")
        item.update({k: v for k, v in kwargs.items() if v is not None})
        return item

    def post(self, task_id: str, action: str, **kwargs: Any) -> None:
        """Write one event now (PutItem); only log it when ``write_meta_to_ddb`` is off. TaskManager prefers
        :meth:`make_item` inside its own batches.

        :param task_id: The task.
        :param action: What happened.
        :param kwargs: More fields of the event; not those of the Lambda context.
        """
        item = self.make_item(task_id, action, **kwargs)
        if self.dynamo_db_client is None:
            logger.info("event log off: %s", item)
            return
        self.dynamo_db_client.put(item, table_name=self.table_name)

    def get_task_events(self, task_id: str) -> List[Dict[str, Any]]:
        """Every event of a task, oldest first."""
        return self.dynamo_db_client.get_by_query({"task_id": task_id}, table_name=self.table_name,
                                                  fetch_all_fields=True)

    def transaction_item(self, task_id: str, action: str, **kwargs: Any) -> Dict[str, Any]:
        """A Put action for ``DynamoDbClient.transact_write`` that logs one event."""
        return self.dynamo_db_client.make_put_transaction_item(self.make_item(task_id, action, **kwargs),
                                                               table_name=self.table_name)

    def batch_request(self, task_id: str, action: str, **kwargs: Any) -> tuple:
        """A ``(table, 'put', item)`` triple for ``DynamoDbClient.batch_write``."""
        return self.table_name, "put", self.make_item(task_id, action, **kwargs)

    def last_action(self, task_id: str) -> Optional[str]:
        """The action of the latest event of a task, or None."""
        events = self.get_task_events(task_id)
        return events[-1]["action"] if events else None
