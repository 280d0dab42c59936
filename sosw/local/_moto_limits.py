"""
DynamoDB's size limits in moto's server, so that a request DynamoDB would refuse is refused locally too and tests
catch it (moto accepts a 5 MB transaction, which DynamoDB refuses). :func:`apply` makes the changes in the server
process (see ``sosw.local._moto_main``); a test passes ``monkeypatch.setattr`` to undo them afterwards.

- TransactWriteItems over 4 MB is refused with DynamoDB's ``ValidationException``: the sum of the items put, and of
  the keys and expression values of the other actions, measured by AWS's item-size rules.
- An item over 400 KB by AWS's rules is refused wherever it is put (moto holds its own measure to 405,000 bytes,
  which leaves out the overhead of lists and maps).
- BatchWriteItem of more than 25 writes, or with an item over 400 KB, is refused whole before anything is written,
  as DynamoDB does (moto writes the items before the bad one). Its 16 MB limit needs no check here: 25 items of at
  most 400 KB stay under 10.3 MB.

The measure is ``sosw.components._dynamo_marshal.item_size``, the one sosw's client cuts its requests by; binary
values arrive base64-encoded here, as on the wire.
"""

import functools
from typing import Any, Callable, Dict, List, Mapping, Sequence

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.exceptions import ItemSizeTooLarge, MockValidationException
from moto.dynamodb.responses import DynamoHandler

from sosw import constants
from sosw.components._dynamo_calls import ITEM_BYTES, TRANSACTION_BYTES
from sosw.components._dynamo_marshal import item_size, value_size

#: Sets an attribute: ``setattr`` in the server; a test passes ``monkeypatch.setattr``, which undoes it afterwards.
Patch = Callable[[Any, str, Any], None]

#: DynamoDB's messages for the requests refused here.
TRANSACTION_TOO_LARGE = "Transaction request cannot be larger than 4 MB"
TOO_MANY_WRITES = "Too many items requested for the BatchWriteItem call"


def transaction_size(transact_items: Sequence[Mapping[str, Any]]) -> int:
    """Bytes of a TransactWriteItems request as DynamoDB holds them to 4 MB: every item put, and the key and
    expression values of every other action, by AWS's item-size rules (binary as base64 text, as received)."""
    size = 0
    for action in transact_items:
        ((_, request),) = action.items()
        size += item_size(request.get("Item") or request.get("Key") or {}, base64_binary=True)
        values = request.get("ExpressionAttributeValues") or {}
        size += sum(value_size(value, base64_binary=True) for value in values.values())
    return size


def _check_item(item: Mapping[str, Any]) -> None:
    if item_size(item, base64_binary=True) > ITEM_BYTES:
        raise ItemSizeTooLarge()


def _refuse_transactions_over_4_mb(patch: Patch) -> None:
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: List[Dict[str, Any]]) -> Any:
        if transaction_size(transact_items) > TRANSACTION_BYTES:
            raise MockValidationException(TRANSACTION_TOO_LARGE)
        return original(self, transact_items)

    patch(dynamodb_models.DynamoDBBackend, "transact_write_items", transact_write_items)


def _refuse_items_over_400_kb(patch: Patch) -> None:
    original = dynamodb_models.DynamoDBBackend.put_item

    @functools.wraps(original)
    def put_item(self: Any, table_name: str, item_attrs: Dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        _check_item(item_attrs)
        return original(self, table_name, item_attrs, *args, **kwargs)

    patch(dynamodb_models.DynamoDBBackend, "put_item", put_item)


def _refuse_batch_writes_over_limits(patch: Patch) -> None:
    original = DynamoHandler.batch_write_item

    @functools.wraps(original)
    def batch_write_item(self: Any) -> Any:
        writes = [write for requests in self.body["RequestItems"].values() for write in requests]
        if len(writes) > constants.BATCH_WRITE_LIMIT:
            raise MockValidationException(TOO_MANY_WRITES)
        for write in writes:
            if "PutRequest" in write:
                _check_item(write["PutRequest"]["Item"])
        return original(self)

    patch(DynamoHandler, "batch_write_item", batch_write_item)


def apply(patch: Patch = setattr) -> None:
    """Make moto's DynamoDB refuse what DynamoDB refuses for its size limits.

    :param patch: Sets an attribute; ``setattr`` by default.
    """
    _refuse_transactions_over_4_mb(patch)
    _refuse_items_over_400_kb(patch)
    _refuse_batch_writes_over_limits(patch)
