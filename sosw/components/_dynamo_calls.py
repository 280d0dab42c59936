"""The operations that take several DynamoDB calls: a query read page by page, batch writes, batch gets and
transactions chunked to DynamoDB's limits, with the retries of what DynamoDB leaves unprocessed.

Each function takes the boto3 client (or its pages) and requests already in DynamoDB's typed syntax;
``DynamoDbClient`` builds and types them.

DynamoDB's limits are held here, before a request is sent, because DynamoDB refuses a request over any of them
whole: 400 KB an item (checked for every item put, naming it), 100 actions and 4 MB a TransactWriteItems, 25 items
and 16 MB a BatchWriteItem. Sizes are measured by AWS's item-size rules (``_dynamo_marshal.item_size``). Requests
are cut greedily in their order, so small items take as few calls as a cut by count alone.
"""

import random
import time
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from botocore.exceptions import ClientError

from sosw import constants
from sosw.components._dynamo_errors import transaction_cancelled
from sosw.components._dynamo_marshal import item_size, value_size
from sosw.components.helpers import chunks
from sosw.exceptions import InvalidDynamoInput, SoswError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: ``(table, {'PutRequest': ...} | {'DeleteRequest': ...})``: one write of a BatchWriteItem.
TableWrite = Tuple[str, Dict[str, Any]]
#: Turns a DynamoDB item into what is returned.
Converter = Callable[[Dict[str, Any]], Dict[str, Any]]
#: Names an item in an error: ``(table, typed item) -> 'item {...} of table'``.
ItemNamer = Callable[[str, Mapping[str, Any]], str]
#: ``(label, actions)``: TransactWriteItems actions that must go in one transaction; the label names them in errors.
ActionGroup = Tuple[str, Sequence[Mapping[str, Any]]]

#: DynamoDB's limit of an item's size (400 KB), bytes.
ITEM_BYTES = 400 * 1024
#: DynamoDB's limit of the aggregate size of a TransactWriteItems (4 MB), bytes.
TRANSACTION_BYTES = 4 * 1024 * 1024
#: DynamoDB's limit of a BatchWriteItem's size (16 MB), bytes. Unreachable with 25 items of at most 400 KB, held
#: all the same so that the cut does not rest on that arithmetic.
BATCH_WRITE_BYTES = 16 * 1024 * 1024

_EXPRESSION_KEYS = ("ConditionExpression", "UpdateExpression")


def action_size(action: Mapping[str, Any]) -> int:
    """Bytes one TransactWriteItems action counts for towards the 4 MB: the item put, or the key, plus the values
    and names of its expressions and their text (these are small; counting them keeps the cut on the safe side).

    :param action: ``{'Put': {...}}``, ``{'Update': {...}}``, ``{'Delete': {...}}`` or ``{'ConditionCheck': {...}}``.
    """
    ((_, request),) = action.items()
    size = item_size(request.get("Item") or request.get("Key") or {})
    size += sum(value_size(v) for v in (request.get("ExpressionAttributeValues") or {}).values())
    size += sum(len(name.encode("utf-8")) for name in (request.get("ExpressionAttributeNames") or {}).values())
    return size + sum(len(str(request.get(key, "")).encode("utf-8")) for key in _EXPRESSION_KEYS)


def write_size(write: Mapping[str, Any]) -> int:
    """Bytes one write of a BatchWriteItem counts for: the item of a ``PutRequest``, the key of a
    ``DeleteRequest``."""
    if "PutRequest" in write:
        return item_size(write["PutRequest"]["Item"])
    return item_size(write["DeleteRequest"]["Key"])


def check_item_sizes(puts: Iterable[Tuple[str, Mapping[str, Any]]], name: ItemNamer) -> None:
    """Refuse any item over DynamoDB's 400 KB, which DynamoDB would refuse with its request.

    :param puts: ``(table, typed item)`` of every item to be put.
    :param name: Names the item in the error (its key).
    :raises ~sosw.exceptions.InvalidDynamoInput: Naming the item, its table and its size; ``value`` is the size.
    """
    for table, item in puts:
        size = item_size(item)
        if size > ITEM_BYTES:
            raise InvalidDynamoInput(f"{name(table, item)} is {size} bytes, over DynamoDB's limit of 400 KB "
                                     f"({ITEM_BYTES} bytes) an item; nothing of this request was written",
                                     field="item", value=size)


def _puts_of_actions(actions: Iterable[Mapping[str, Any]]) -> List[Tuple[str, Mapping[str, Any]]]:
    return [(action["Put"]["TableName"], action["Put"]["Item"]) for action in actions if "Put" in action]


def _named_by(label: str) -> ItemNamer:
    def name(table: str, item: Mapping[str, Any]) -> str:
        return f"the item put in {table} by the actions of {label!r}"
    return name


def pack(units: Sequence[Any], count: Callable[[Any], int], size: Callable[[Any], int], max_count: int,
         max_bytes: int, label: Callable[[Any], str]) -> List[List[Any]]:
    """``units`` cut in order into requests of at most ``max_count`` (by ``count``) and ``max_bytes`` (by
    ``size``) each, a unit never split: a request is closed when the next unit would not fit.

    :raises ~sosw.exceptions.InvalidDynamoInput: A unit alone is over a limit (named by ``label``).
    """
    requests: List[List[Any]] = []
    current: List[Any] = []
    current_count = current_bytes = 0
    for unit in units:
        unit_count, unit_bytes = count(unit), size(unit)
        if unit_count > max_count or unit_bytes > max_bytes:
            raise InvalidDynamoInput(f"{label(unit)}: {unit_count} actions of {unit_bytes} bytes cannot go in one "
                                     f"request (at most {max_count} actions and {max_bytes} bytes)",
                                     field="actions", value=unit_bytes)
        if current and (current_count + unit_count > max_count or current_bytes + unit_bytes > max_bytes):
            requests.append(current)
            current, current_count, current_bytes = [], 0, 0
        current.append(unit)
        current_count += unit_count
        current_bytes += unit_bytes
    if current:
        requests.append(current)
    return requests


def transaction_batches(groups: Sequence[ActionGroup], reserved: Sequence[Mapping[str, Any]] = ()
                        ) -> List[List[ActionGroup]]:
    """Groups of actions cut in order into transactions within DynamoDB's limits (100 actions, 4 MB), a group
    never split, so that what must be atomic stays in one transaction. ``reserved``: actions the caller adds to
    every transaction (e.g. a ConditionCheck), left room for.

    .. code-block:: python

        groups = [(task["task_id"], [put_in_closed(task), delete_from_tasks(task)]) for task in tasks]
        for batch in transaction_batches(groups):
            client.transact_write(*[action for _, actions in batch for action in actions])

    :raises ~sosw.exceptions.InvalidDynamoInput: An item put is over 400 KB, or a group alone is over a limit;
        named by the group's label. Nothing is cut then: the caller sends nothing.
    """
    for group_label, actions in groups:
        check_item_sizes(_puts_of_actions(actions), _named_by(group_label))
    return pack(groups, lambda group: len(group[1]), lambda group: sum(action_size(a) for a in group[1]),
                constants.TRANSACT_WRITE_LIMIT - len(reserved),
                TRANSACTION_BYTES - sum(action_size(a) for a in reserved), lambda group: group[0])


def collect_query(pages: Iterable[Mapping[str, Any]], convert: Converter, max_items: Optional[int],
                  return_count: bool) -> Union[List[Dict[str, Any]], int]:
    """The items of a query's pages (or their count), stopping at ``max_items``: pages are fetched as they are
    read, so no more are asked for once there are enough."""
    count = 0
    items: List[Dict[str, Any]] = []
    for page in pages:
        if return_count:
            count += page.get("Count", 0)
            if max_items is not None and count >= max_items:
                return max_items
            continue
        for item in page.get("Items", []):
            items.append(convert(item))
            if max_items is not None and len(items) >= max_items:
                return items
    return count if return_count else items


def write_in_batches(client: "DynamoDBClient", writes: Sequence[TableWrite], max_attempts: int,
                     retry_wait_base_time: float, name: ItemNamer) -> int:
    """Send ``writes`` with BatchWriteItem, 25 and 16 MB a request, resending unprocessed items with exponential
    backoff and jitter.

    :param name: Names an item over 400 KB in the error.
    :return: Number of BatchWriteItem calls made.
    :raises ~sosw.exceptions.InvalidDynamoInput: An item is over 400 KB; nothing was sent.
    :raises ~sosw.exceptions.SoswError: Items still unprocessed after ``max_attempts``; earlier batches were written.
    """
    check_item_sizes([(table, w["PutRequest"]["Item"]) for table, w in writes if "PutRequest" in w], name)
    calls = 0
    for batch in pack(list(writes), lambda _: 1, lambda write: write_size(write[1]), constants.BATCH_WRITE_LIMIT,
                      BATCH_WRITE_BYTES, lambda write: f"a write to {write[0]}"):
        pending: Dict[str, List[Any]] = defaultdict(list)
        for table, request in batch:
            pending[table].append(request)
        for attempt in range(max_attempts):
            response = client.batch_write_item(RequestItems=dict(pending))
            calls += 1
            pending = dict(response.get("UnprocessedItems") or {})
            if not pending:
                break
            time.sleep(retry_wait_base_time * (2 ** attempt) * (1 + random.random()))
        if pending:
            left = sum(len(v) for v in pending.values())
            raise SoswError(f"batch_write: {left} items still unprocessed after {max_attempts} attempts")
    return calls


def get_in_batches(client: "DynamoDBClient", table: str, keys: Sequence[Mapping[str, Any]], read: Mapping[str, Any],
                   retries: int, retry_wait_base_time: float, convert: Converter) -> List[Dict[str, Any]]:
    """Items of one table by their typed keys with BatchGetItem, 100 keys a request, asking again for unprocessed
    keys with exponential backoff.

    :param read: Extra arguments of each table's request (``ConsistentRead``).
    :param retries: Retries of unprocessed keys after the first request.
    :param convert: Turns each item into what is returned.
    :raises ~sosw.exceptions.SoswError: Keys still unprocessed after the retries.
    """
    result: List[Dict[str, Any]] = []
    for batch in chunks(list(keys), constants.BATCH_GET_LIMIT):
        pending: Dict[str, Any] = {table: {"Keys": batch, **read}}
        for attempt in range(retries + 1):
            response = client.batch_get_item(RequestItems=pending)
            responses = response.get("Responses") or {}
            result.extend(convert(dict(item)) for item in responses.get(table) or [])
            unprocessed_tables = response.get("UnprocessedKeys") or {}
            unprocessed = unprocessed_tables[table].get("Keys") if table in unprocessed_tables else None
            pending = {table: {"Keys": unprocessed, **read}} if unprocessed else {}
            if not pending:
                break
            time.sleep(retry_wait_base_time * (2 ** attempt))
        if pending:
            raise SoswError(f"batch_get_items_one_table: {len(pending[table]['Keys'])} keys of {table} "
                            f"still unprocessed after retries")
    return result


def transact_in_batches(client: "DynamoDBClient", actions: Sequence[Mapping[str, Any]], name: ItemNamer) -> None:
    """Execute write actions with TransactWriteItems, 100 and 4 MB a transaction, each request with its own client
    token so that botocore's retry of a request is not applied twice.

    :param name: Names an item over 400 KB in the error.
    :raises ~sosw.exceptions.InvalidDynamoInput: An item put is over 400 KB (or an action alone over 4 MB);
        nothing was sent.
    :raises ~sosw.exceptions.TransactionCancelled: A transaction was cancelled; those before it were applied.
    """
    check_item_sizes(_puts_of_actions(actions), name)
    batches = pack(list(actions), lambda _: 1, action_size, constants.TRANSACT_WRITE_LIMIT, TRANSACTION_BYTES,
                   lambda action: f"a {next(iter(action))} action")
    for batch in batches:
        try:
            client.transact_write_items(TransactItems=batch, ClientRequestToken=str(uuid.uuid4()))
        except ClientError as err:
            cancelled = transaction_cancelled(err)
            if cancelled is None:
                raise
            raise cancelled from err
