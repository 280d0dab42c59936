"""
The task store: the task tables in DynamoDB. It reads the queue and the other tables, and executes the writes that
the greenfield rules (``_greenfield.py``) describe: single writes, batches, and transactions with their retries.

.. code-block:: python

    store = TaskStore(TaskSettings(), client=lambda: dynamo_db_client, meta=lambda: None, stats=defaultdict(int))
    store.apply([archive_move(fields, task, dead=False, now=now)])  # ids of the tasks moved
"""

import logging
import random
import time
from typing import Any, Callable, Dict, List, Mapping, MutableMapping, Optional, Sequence, Set, Tuple

from botocore.exceptions import ClientError

from sosw import constants
from sosw.components.dynamo_db import transaction_batches
from sosw.components.helpers import chunks
from sosw.exceptions import ConditionCheckFailed, TransactionCancelled
from sosw.managers._greenfield import CLOSED, RETRY, TASKS, Action, Check, Delete, Event, Move, Put, Update
from sosw.managers._settings import TaskSettings

logger = logging.getLogger(__name__)


class TaskStore:
    """The DynamoDB side of the TaskManager.

    :param settings: Table and index names, field names, ``transaction_attempts``.
    :param client: Gives the ``DynamoDbClient``, asked at every call: its owner's ``dynamo_db_client`` may be
        replaced at any time (users' tests assign mocks, the WorkerAssistant its own client).
    :param meta: Gives the ``MetaHandler`` of the task log, or None when the log is off; asked at every call.
    :param stats: Where to count ``transaction_conflicts`` and ``task_moves_refused`` (the owner's stats).
    :param sleep: Waits between tries of a transaction that conflicted.
    """

    def __init__(self, settings: TaskSettings, *, client: Callable[[], Any], meta: Callable[[], Any],
                 stats: MutableMapping[str, Any], sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.fields = settings.fields
        self._client = client
        self._meta = meta
        self._stats = stats
        self._sleep = sleep
        self.tables = {TASKS: settings.tasks_table, CLOSED: settings.closed_table, RETRY: settings.retry_table}

    # Reading ---------------------------------------------------------------------------------------------------

    def query_greenfield(self, labourer_id: str, value: Any, op: str, **kwargs: Any) -> Any:
        """Tasks of a Labourer by greenfield (``op`` a comparison, or ``'between'`` with a pair of values), from
        the greenfield index; ``kwargs`` go to ``DynamoDbClient.get_by_query``."""
        f = self.fields
        keys = {f.labourer_id: labourer_id}
        comparisons = {}
        if op == "between":
            keys[f"st_between_{f.greenfield}"], keys[f"en_between_{f.greenfield}"] = value
        else:
            keys[f.greenfield] = value
            comparisons[f.greenfield] = op
        return self._client().get_by_query(keys=keys, table_name=self.settings.tasks_table,
                                           index_name=self.settings.greenfield_index, comparisons=comparisons,
                                           fetch_all_fields=True, **kwargs)

    def get(self, task_id: str) -> Optional[Dict[str, Any]]:
        """The task (GetItem, strongly consistent), or None."""
        return self._client().get_by_key({self.fields.task_id: task_id}, table_name=self.settings.tasks_table,
                                         fetch_all_fields=True, consistent_read=True)

    def count_retrying(self, labourer_id: str) -> int:
        """Tasks of the Labourer waiting in the retry table."""
        return self._client().get_by_query({self.fields.labourer_id: labourer_id},
                                           table_name=self.settings.retry_table, return_count=True)

    def count_closed(self, labourer_id: str, status: int) -> int:
        """Closed tasks of the Labourer: completed (``status`` 1) or dead (0)."""
        return self._client().get_by_query(
            {self.fields.labourer_id_task_status: f"{labourer_id}_{status}"}, table_name=self.settings.closed_table,
            index_name=self.settings.closed_status_index, return_count=True)

    def count_closed_and_retrying(self, labourer_id: str) -> Dict[str, int]:
        """The Labourer's tasks waiting in the retry table (``retrying``), closed as completed (``closed``) and as
        dead (``dead``)."""
        return {"retrying": self.count_retrying(labourer_id), "closed": self.count_closed(labourer_id, 1),
                "dead": self.count_closed(labourer_id, 0)}

    def recently_closed(self, labourer_id: str, status: int) -> List[Dict[str, Any]]:
        """The Labourer's latest closed tasks, completed (``status`` 1) or dead (0), newest first."""
        return self._client().get_by_query(
            keys={self.fields.labourer_id_task_status: f"{labourer_id}_{status}"},
            table_name=self.settings.closed_table, index_name=self.settings.closed_status_index, desc=True,
            max_items=self.settings.max_closed_to_analyse_for_duration, fetch_all_fields=True)

    def due_for_retry(self, labourer_id: str, start: int, limit: Optional[int]) -> List[Dict[str, Any]]:
        """Tasks of the retry table due by ``start``, earliest first."""
        f = self.fields
        return self._client().get_by_query(
            keys={f.labourer_id: labourer_id, f.desired_launch_time: start},
            comparisons={f.desired_launch_time: "<="}, table_name=self.settings.retry_table,
            index_name=self.settings.retry_greenfield_index, max_items=limit, fetch_all_fields=True)

    def locate(self, task_id: str, labourer_ids: Sequence[str]) -> Tuple[Optional[str], Optional[Dict[str, Any]]]:
        """Where the task is — the tasks, closed or retry table (for each of ``labourer_ids``) — and its item, read
        in one TransactGetItems: a consistent view, so that a task moving between tables is found exactly once.

        :return: ``(TASKS | CLOSED | RETRY, item)``, or ``(None, None)`` when it is in none of them.
        """
        f = self.fields
        keys = [(TASKS, {f.task_id: task_id}), (CLOSED, {f.task_id: task_id})]
        keys += [(RETRY, {f.labourer_id: labourer_id, f.task_id: task_id}) for labourer_id in labourer_ids]
        client = self._client()
        # More Labourers than one transaction reads (100 items) are read in several: rare, and no longer atomic.
        for batch in chunks(keys, constants.TRANSACT_WRITE_LIMIT):
            # A Get takes the TableName and Key of a DeleteItem request.
            response = client.dynamo_client.transact_get_items(TransactItems=[
                {"Get": client.build_delete_query(key, table_name=self.tables[role])} for role, key in batch])
            for (role, _key), found in zip(batch, response.get("Responses") or []):
                if found.get("Item"):
                    return role, client.dynamo_to_dict(dict(found["Item"]), fetch_all_fields=True)
        return None, None

    def existing_ids(self, labourer_id: str, ids: Sequence[str]) -> Set[str]:
        """Which of ``ids`` are in the tasks, closed or retry tables (a BatchGetItem per 100 ids and table)."""
        f = self.fields
        found: Set[str] = set()
        for table, extra_key in ((self.settings.tasks_table, {}), (self.settings.closed_table, {}),
                                 (self.settings.retry_table, {f.labourer_id: labourer_id})):
            keys = [{**extra_key, f.task_id: task_id} for task_id in ids]
            found.update(item[f.task_id] for item in
                         self._client().batch_get_items_one_table(keys, table_name=table, fetch_all_fields=True))
        return found

    # Writing ---------------------------------------------------------------------------------------------------

    def write(self, action: Action) -> None:
        """One write on its own: PutItem, UpdateItem (both may raise ``ConditionCheckFailed``), or an event.

        :param action: A :class:`Put` (unconditional), :class:`Update` or :class:`Event`.
        """
        if isinstance(action, Event):
            meta = self._meta()
            if meta:
                meta.post(action.task_id, action.action, **action.details)
        elif isinstance(action, Put):
            self._client().put(action.item, table_name=self.tables[action.table])
        elif isinstance(action, Update):
            kwargs: Dict[str, Any] = {"attributes_to_update": action.values}
            if action.increments:
                kwargs["attributes_to_increment"] = action.increments
            self._client().update(action.key, table_name=self.tables[action.table],
                                  condition_expression=action.condition, **kwargs)
        elif isinstance(action, Delete) and action.condition is not None:
            # DynamoDbClient.delete takes no condition: a conditional delete is a transaction of one action.
            client = self._client()
            try:
                client.transact_write(client.make_delete_transaction_item(
                    action.key, table_name=self.tables[action.table], condition_expression=action.condition))
            except TransactionCancelled as err:
                raise ConditionCheckFailed(ClientError({"Error": {"Code": "ConditionalCheckFailedException",
                                                                  "Message": str(err)}}, "TransactWriteItems"),
                                           self.tables[action.table], action.key, action.condition) from None
        else:
            raise TypeError(f"{type(action).__name__} is not a single write")

    def write_each(self, move: Move) -> None:
        """The actions of ``move`` one by one with :meth:`write`, not atomically: sosw 0.7.47's single-task path
        (a write, then its event)."""
        for action in move.actions:
            self.write(action)

    def batch(self, moves: Sequence[Move]) -> None:
        """Unconditional puts (and their events), 25 a BatchWriteItem."""
        meta = self._meta()
        requests: List[Tuple[str, str, Dict[str, Any]]] = []
        for move in moves:
            for action in move.actions:
                if isinstance(action, Put):
                    requests.append((self.tables[action.table], "put", action.item))
                elif isinstance(action, Event):
                    if meta:
                        requests.append(meta.batch_request(action.task_id, action.action, **action.details))
                else:
                    raise TypeError(f"{type(action).__name__} cannot go in a batch")
        self._client().batch_write(requests)

    def _transaction_items(self, move: Move) -> List[Dict[str, Any]]:
        client, meta = self._client(), self._meta()
        items = []
        for action in move.actions:
            table = self.tables.get(getattr(action, "table", ""), "")
            if isinstance(action, Put):
                items.append(client.make_put_transaction_item(action.item, table_name=table,
                                                              condition_expression=action.condition))
            elif isinstance(action, Update):
                items.append(client.make_update_transaction_item(
                    action.key, attributes_to_update=action.values, attributes_to_increment=action.increments,
                    table_name=table, condition_expression=action.condition))
            elif isinstance(action, Delete):
                items.append(client.make_delete_transaction_item(action.key, table_name=table,
                                                                 condition_expression=action.condition))
            elif isinstance(action, Check):
                # A ConditionCheck takes what a conditional Delete takes.
                items.append({"ConditionCheck": client.make_delete_transaction_item(
                    action.key, table_name=table, condition_expression=action.condition)["Delete"]})
            elif meta:
                items.append(meta.transaction_item(action.task_id, action.action, **action.details))
        return items

    def apply(self, moves: Sequence[Move], guard: Optional[Check] = None) -> List[str]:
        """Apply each move atomically, many per transaction. A move whose condition fails (another Essential got
        there first) is left out and the rest go again; conflicts are retried with jitter.

        :param guard: A condition every transaction checks (e.g. that the caller still holds the Labourer's dispatch
            lease, :func:`~sosw.managers._greenfield.lease_check`); once it fails, nothing more is applied (counted
            in ``stats['guard_failures']``).
        :return: Ids of the tasks whose moves were applied.
        """
        groups = [(move.task_id, self._transaction_items(move)) for move in moves]
        checks = self._transaction_items(Move("", (guard,))) if guard is not None else []
        done: List[str] = []
        # By DynamoDB's limits (100 actions, 4 MB), never cutting one task's move in two.
        for batch in transaction_batches(groups, reserved=checks):
            pending = list(batch)
            for attempt in range(self.settings.transaction_attempts):
                if not pending:
                    break
                try:
                    self._client().transact_write(*checks, *[item for _, group in pending for item in group])
                except TransactionCancelled as err:
                    if "ConditionalCheckFailed" in err.reasons[:len(checks)]:
                        self._stats["guard_failures"] += 1
                        logger.warning("stopped after %d of %d tasks: the condition on %s failed (e.g. a dispatch "
                                       "lease taken over)", len(done), len(moves), guard.key if guard else None)
                        return done
                    refused = self._refused(pending, err.reasons[len(checks):])
                    self._stats["transaction_conflicts"] += 1
                    pending = [(task_id, group) for task_id, group in pending if task_id not in refused]
                    if refused:
                        self._stats["task_moves_refused"] += len(refused)
                        logger.info("left out %d tasks changed by someone else: %s", len(refused), sorted(refused))
                    else:
                        self._sleep(0.05 * (2 ** attempt) * (1 + random.random()))
                    continue
                done.extend(task_id for task_id, _ in pending)
                pending = []
            if pending:
                logger.warning("gave up on %d tasks after conflicts; they stay where they are", len(pending))
        return done

    @staticmethod
    def _refused(pending: Sequence[Tuple[str, Sequence[Mapping[str, Any]]]], reasons: List[Any]) -> Set[str]:
        """Tasks whose actions DynamoDB cancelled for a failed condition (``reasons`` has a code per action)."""
        refused, position = set(), 0
        for task_id, group in pending:
            if "ConditionalCheckFailed" in reasons[position:position + len(group)]:
                refused.add(task_id)
            position += len(group)
        return refused
