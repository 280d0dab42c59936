"""The operations that take several DynamoDB calls: a query read page by page, batch writes, batch gets and
transactions chunked to DynamoDB's limits, with the retries of what DynamoDB leaves unprocessed.

Each function takes the boto3 client (or its pages) and requests already in DynamoDB's typed syntax;
``DynamoDbClient`` builds and types them.
"""

import random
import time
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from botocore.exceptions import ClientError

from sosw import constants
from sosw.components._dynamo_errors import transaction_cancelled
from sosw.components.helpers import chunks
from sosw.exceptions import SoswError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: ``(table, {'PutRequest': ...} | {'DeleteRequest': ...})``: one write of a BatchWriteItem.
TableWrite = Tuple[str, Dict[str, Any]]
#: Turns a DynamoDB item into what is returned.
Converter = Callable[[Dict[str, Any]], Dict[str, Any]]


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
                     retry_wait_base_time: float) -> int:
    """Send ``writes`` with BatchWriteItem, 25 a request, resending unprocessed items with exponential backoff and
    jitter.

    :return: Number of BatchWriteItem calls made.
    :raises ~sosw.exceptions.SoswError: Items still unprocessed after ``max_attempts``; earlier batches were written.
    """
    calls = 0
    for batch in chunks(list(writes), constants.BATCH_WRITE_LIMIT):
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


def transact_in_batches(client: "DynamoDBClient", actions: Sequence[Mapping[str, Any]]) -> None:
    """Execute write actions with TransactWriteItems, 100 a transaction, each request with its own client token so
    that botocore's retry of a request is not applied twice.

    :raises ~sosw.exceptions.TransactionCancelled: A transaction was cancelled; those before it were applied.
    """
    for batch in chunks(list(actions), constants.TRANSACT_WRITE_LIMIT):
        try:
            client.transact_write_items(TransactItems=batch, ClientRequestToken=str(uuid.uuid4()))
        except ClientError as err:
            cancelled = transaction_cancelled(err)
            if cancelled is None:
                raise
            raise cancelled from err
