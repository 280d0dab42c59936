"""
The task event log: one item per event of a task (``created``, ``invoked``, ``completed``, ``archived``, ...) in
``sosw_tasks_meta`` (hash key ``task_id``, range key ``created_at``).

TaskManager writes the events in the same requests as the task changes they describe (in the same batch or
transaction), so the log costs almost no extra calls. Without ``meta_handler_config`` TaskManager logs nothing.

.. code-block:: python

    from sosw.managers.meta_handler import MetaHandler

    meta = MetaHandler(custom_config={'dynamo_db_config': {'table_name': 'sosw_tasks_meta'}})
    meta.post(task_id='abc', action='invoked', labourer_id='my_worker')
    [event['action'] for event in meta.get_task_events('abc')]  # ['invoked']
"""

import os
import threading
import time
from decimal import Decimal
from typing import Any, Dict, List, Optional

from sosw import constants
from sosw.app import Processor


class MetaHandler(Processor):
    """Writes and reads the event log of tasks."""

    DEFAULT_CONFIG = {
        "init_clients": ["DynamoDb"],
        "dynamo_db_config": {
            "table_name": constants.META_TABLE,
            "row_mapper": {"task_id": "S", "created_at": "N", "action": "S", "author": "S", "invocation_id": "S",
                           "labourer_id": "S"},
            "required_fields": ["task_id", "created_at", "action"],
        },
    }

    dynamo_db_client: Any = None
    _lock = threading.Lock()
    _last_stamp = Decimal(0)

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
        return self.config["dynamo_db_config"]["table_name"]

    def make_item(self, task_id: str, action: str, **kwargs: Any) -> Dict[str, Any]:
        """The item of one event: ``task_id``, ``created_at``, ``action``, ``author`` (the running function),
        ``invocation_id`` (its request id) and any keyword arguments with a value.

        :param task_id: The task.
        :param action: What happened, e.g. ``'invoked'``.
        """
        context = self.lambda_context or getattr(self._parent, "lambda_context", None)
        item: Dict[str, Any] = {
            "task_id": task_id,
            "created_at": self._stamp(),
            "action": action,
            "author": os.environ.get(constants.ENV_FUNCTION_NAME) or "local",
        }
        request_id = getattr(context, "aws_request_id", None)
        if request_id:
            item["invocation_id"] = request_id
        item.update({k: v for k, v in kwargs.items() if v is not None})
        return item

    def post(self, task_id: str, action: str, **kwargs: Any) -> None:
        """Write one event now (PutItem). TaskManager prefers :meth:`make_item` inside its own batches."""
        self.dynamo_db_client.put(self.make_item(task_id, action, **kwargs), table_name=self.table_name)

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
        events = self.get_task_events(task_id)
        return events[-1]["action"] if events else None
