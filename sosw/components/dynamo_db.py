"""
DynamoDB client with the conveniences sosw needs: plain dicts in and out, typed by a ``row_mapper``, every
attribute name escaped, pagination followed, batch writes and transactions chunked to DynamoDB's limits.

The class is the public face; the work is done by private modules beside it: ``_dynamo_requests`` (requests as
data, and the half of the client that sends nothing), ``_dynamo_expressions`` (the condition-string parser and the
expressions of a request, built from ``boto3.dynamodb.conditions``), ``_dynamo_marshal`` (typing by the
``row_mapper``, boto3's ``TypeSerializer``/``TypeDeserializer``), ``_dynamo_calls`` (pages, batches and
transactions, with their retries), ``_dynamo_errors`` (botocore errors as sosw's) and ``_dynamo_tables`` (which
table, and what DescribeTable says). Throttling is retried by botocore's standard retry mode.

.. code-block:: python

    from sosw.components.dynamo_db import DynamoDbClient

    client = DynamoDbClient({
        'table_name': 'my_table',
        'row_mapper': {'hash_col': 'S', 'range_col': 'N', 'status': 'S'},
        'required_fields': ['hash_col', 'range_col'],
    })
    client.put({'hash_col': 'cat', 'range_col': 1, 'status': 'new'})
    client.get_by_query({'hash_col': 'cat', 'range_col': 0}, comparisons={'range_col': '>'},
                        filter_expression='status = new')
    client.update({'hash_col': 'cat', 'range_col': 1}, attributes_to_update={'status': 'done'},
                  condition_expression='attribute_exists hash_col')
"""

import datetime
import functools
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable, Dict, Generator, Iterable, List, Mapping, Optional, Tuple, Union

import boto3
from boto3.dynamodb.conditions import Attr
from botocore.config import Config

from sosw import constants
from sosw.components import _dynamo_calls, _dynamo_marshal, _dynamo_requests, _dynamo_tables
from sosw.components._boto import make_client
from sosw.components._dynamo_calls import transaction_batches
from sosw.components._dynamo_errors import conditional_write
from sosw.components._dynamo_expressions import Condition, Expressions, describe_condition, parse_condition
from sosw.components._dynamo_requests import _RequestBuilder
from sosw.components.helpers import camel_case_to_underscore
from sosw.exceptions import InvalidChoice, InvalidTableName

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

__all__ = ["DynamoDbClient", "clean_dynamo_table", "describe_condition", "parse_condition", "transaction_batches"]


class DynamoDbClient(_RequestBuilder):
    """Has default methods for different types of DynamoDB tables.

    One table is the default (``table_name`` in config); every method takes ``table_name`` to use another.
    ``dynamo_client`` (the boto3 client) and ``row_mapper`` are plain attributes: tests may assign a stand-in to them.

    :param config: ``row_mapper`` (attribute name -> DynamoDB type ``'S'``, ``'N'``, ``'BOOL'``, ``'M'``, ``'L'``),
        ``required_fields``, ``table_name``, ``hash_key`` (of the default table, for :meth:`create` and
        :meth:`patch`), ``index_name`` (default index of scans), ``region_name``, ``dont_json_loads_results``
        (do not decode JSON-object strings), ``fetch_all_fields`` (default for the methods' argument of that name).
    :param client: The boto3 DynamoDB client to use, as sosw 0.7.47 code passes it; ``dynamo_client`` wins.
    :param test: Test mode: refuse tables whose names do not start with ``autotest_`` (the config table aside).
        Also on when the environment has ``STAGE=test``.
    :param dynamo_client: The boto3 DynamoDB client to use. When neither it nor ``client`` is given, one is built
        here with ``boto3.client`` (looked up at call time, so ``patch('boto3.client')`` reaches it).
    :param boto3_session: The session to build the boto3 client from; boto3's default session otherwise.
    :param boto_config: botocore ``Config`` for the built client, over the config's ``region_name`` and botocore's
        standard retry mode.
    :param kwargs: Accepted and unused, so that callers passing a component's common arguments keep working.

    .. code-block:: python

        client = DynamoDbClient({'table_name': 'sosw_tasks', 'hash_key': 'task_id',
                                 'row_mapper': {'task_id': 'S', 'greenfield': 'N'}})
        client.create({'task_id': 'abc', 'greenfield': 1000})
        client.get_by_query({'task_id': 'abc'}, consistent_read=True)

        DynamoDbClient({'table_name': 'sosw_tasks'}, dynamo_client=boto3.client('dynamodb'))
    """

    def __init__(self, config: Optional[Dict[str, Any]] = None, client: Optional["DynamoDBClient"] = None,
                 test: bool = False, *, dynamo_client: Optional["DynamoDBClient"] = None,
                 boto3_session: Optional[boto3.session.Session] = None, boto_config: Optional[Config] = None,
                 **kwargs: Any) -> None:
        super().__init__(config, test)
        self.stats: Dict[str, Any] = defaultdict(int)
        if dynamo_client is None:
            dynamo_client = client if client is not None else self._make_client(boto3_session, boto_config)
        self.dynamo_client: DynamoDBClient = dynamo_client
        dynamo_client.meta.events.register("before-call.dynamodb.*", self._count_call)
        self._table_descriptions: Dict[str, Dict[str, Any]] = {}
        self._capacity: Dict[str, Dict[str, int]] = {}

    # Plumbing --------------------------------------------------------------------------------------------------

    def _make_client(self, boto3_session: Optional[boto3.session.Session], boto_config: Optional[Config]) -> Any:
        """The default boto3 client. Built here, not on first use: users' tests build the object inside
        ``patch('boto3.client')``."""
        region = self.config.get("region_name")
        config = Config(region_name=region) if region else None
        if boto_config is not None:
            config = boto_config if config is None else config.merge(boto_config)
        return make_client("dynamodb", boto3_session=boto3_session, boto_config=config)

    def _count_call(self, model: Any = None, **kwargs: Any) -> None:
        self.stats[f"dynamo_{camel_case_to_underscore(model.name)}_calls"] += 1

    def _name_item(self, table: str, item: Mapping[str, Any]) -> str:
        """``item {key} of table``, for an error about a typed item. The key names come from DescribeTable, asked
        only on the way to such an error, else from the config's ``hash_key``."""
        try:
            names = [name for name in self.get_table_keys(table) if name]
        except Exception:  # best effort: the error this names must come out whatever DescribeTable answers
            names = [self.config.get("hash_key") or ""]
        key = {name: _dynamo_marshal.from_dynamo_number(_dynamo_marshal.DESERIALIZER.deserialize(item[name]))
               for name in names if name in item}
        return f"item {key or '(key unknown)'} of {table}"

    def _to_dict(self, fetch_all_fields: Optional[bool],
                 strict: Optional[bool]) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
        """:meth:`dynamo_to_dict` for the items of one call, which all get the same fields."""
        return functools.partial(self.dynamo_to_dict, fetch_all_fields=self._fetch_all(fetch_all_fields, strict))

    # Reads -----------------------------------------------------------------------------------------------------

    def get_by_key(self, keys: Dict[str, Any], table_name: Optional[str] = None,
                   fetch_all_fields: Optional[bool] = None, consistent_read: bool = False) -> Optional[Dict[str, Any]]:
        """One item by its full primary key (GetItem), or None.

        :param keys: Hash key (and range key) with values.
        :param consistent_read: Strongly consistent read.
        """
        response = self.dynamo_client.get_item(TableName=self._table(table_name), Key=self._keys(keys),
                                               ConsistentRead=consistent_read)
        item = response.get("Item")
        return self.dynamo_to_dict(dict(item), fetch_all_fields=fetch_all_fields) if item else None

    def get_by_query(self, keys: Dict[str, Any], table_name: Optional[str] = None, index_name: Optional[str] = None,
                     comparisons: Optional[Dict[str, Any]] = None, max_items: Optional[int] = None,
                     filter_expression: Optional[str] = None, strict: Optional[bool] = None,
                     return_count: bool = False, desc: bool = False, fetch_all_fields: Optional[bool] = None,
                     expr_attrs_names: Optional[List[str]] = None,
                     consistent_read: Optional[bool] = None) -> Union[List[Dict[str, Any]], int]:
        """Query a table or index by key, following pagination.

        :param keys: The hash key and optionally the range key: ``{'hk': 'cat', 'rk': 100}``. For a between on the
            range key give ``st_between_rk`` and ``en_between_rk``.
        :param table_name: Table; the config's ``table_name`` by default.
        :param index_name: Secondary index to query.
        :param comparisons: Operator per key: ``=`` (default), ``<``, ``<=``, ``>``, ``>=``, ``begins_with``.
        :param max_items: Stop after this many items.
        :param filter_expression: A human condition (see :func:`parse_condition`) or a boto3 condition.
        :param strict: Deprecated: the opposite of ``fetch_all_fields``.
        :param return_count: Return the number of matching items instead of the items.
        :param desc: Sort descending by the range key.
        :param fetch_all_fields: If False only ``row_mapper`` attributes are returned.
        :param expr_attrs_names: Kept for compatibility: every attribute name is escaped anyway.
        :param consistent_read: True for a strongly consistent read, False for an eventually consistent one;
            DynamoDB's default (eventually consistent) if None.
        :return: Items as dicts, or their count.
        :raises ~sosw.exceptions.InvalidDynamoInput: A ``ValueError`` for ``consistent_read=True`` with an
            ``index_name``, an ``AssertionError`` too for an unknown comparison.
        """
        request = _dynamo_requests.query_request(
            self._table(table_name), keys, self.row_mapper, index_name=index_name, comparisons=comparisons,
            query_filter=self._condition(filter_expression, "filter_expression"), desc=desc,
            consistent_read=consistent_read)
        if return_count:
            request["Select"] = "COUNT"
        elif max_items and filter_expression is None:
            request["Limit"] = max_items  # read no more than needed: a queue can hold 100,000 items
        pages = self.dynamo_client.get_paginator("query").paginate(**request)
        return _dynamo_calls.collect_query(pages, self._to_dict(fetch_all_fields, strict), max_items, return_count)

    def get_by_scan(self, attrs: Optional[Dict[str, Any]] = None, table_name: Optional[str] = None,
                    index_name: Optional[str] = None, strict: Optional[bool] = None,
                    fetch_all_fields: Optional[bool] = None,
                    consistent_read: Optional[bool] = None) -> List[Dict[str, Any]]:
        """Scan a table or index (slow: prefer :meth:`get_by_query`), optionally keeping items whose ``attrs``
        equal the given values. Follows pagination.

        :param attrs: Attribute names and values to match; empty for the whole table.
        :param table_name: Table; the config's ``table_name`` by default.
        :param index_name: Secondary index to scan; the config's ``index_name`` by default, else the table.
        :param strict: Deprecated: the opposite of ``fetch_all_fields``.
        :param fetch_all_fields: If False only ``row_mapper`` attributes are returned.
        :param consistent_read: True for a strongly consistent read; DynamoDB's default if None.
        """
        return [item for page in self.get_by_scan_generator(attrs, table_name, index_name, strict, fetch_all_fields,
                                                            consistent_read)
                for item in page]

    def get_by_scan_generator(self, attrs: Optional[Dict[str, Any]] = None, table_name: Optional[str] = None,
                              index_name: Optional[str] = None, strict: Optional[bool] = None,
                              fetch_all_fields: Optional[bool] = None,
                              consistent_read: Optional[bool] = None) -> Generator[List[Dict[str, Any]], None, None]:
        """Like :meth:`get_by_scan` (same arguments), but yields the items one page (a list) at a time."""
        to_dict = self._to_dict(fetch_all_fields, strict)
        request = _dynamo_requests.scan_request(self._table(table_name), attrs, self.row_mapper,
                                                index_name=index_name or self.config.get("index_name"),
                                                consistent_read=consistent_read)
        for page in self.dynamo_client.get_paginator("scan").paginate(**request):
            yield [to_dict(item) for item in page.get("Items", [])]

    def batch_get_items_one_table(self, keys_list: List[Dict[str, Any]], table_name: Optional[str] = None,
                                  max_retries: int = 0, retry_wait_base_time: float = 0.2,
                                  strict: Optional[bool] = None, fetch_all_fields: Optional[bool] = None,
                                  consistent_read: Optional[bool] = None) -> List[Dict[str, Any]]:
        """Items of one table by their full keys (BatchGetItem, 100 keys a request); missing keys are skipped.

        Keys DynamoDB leaves unprocessed are asked again with exponential backoff, at least 5 times (more if
        ``max_retries`` says so); if some are still unprocessed then, :class:`~sosw.exceptions.SoswError` is
        raised rather than returning a silently partial result.

        :param keys_list: Full primary keys.
        :param max_retries: Retries of unprocessed keys beyond the minimum.
        :param retry_wait_base_time: First wait in seconds; doubled at every retry.
        :param strict: Deprecated: the opposite of ``fetch_all_fields``.
        :param fetch_all_fields: If False only ``row_mapper`` attributes are returned.
        :param consistent_read: True for a strongly consistent read; DynamoDB's default if None.
        """
        table = self._table(table_name)
        to_dict = self._to_dict(fetch_all_fields, strict)
        read: Dict[str, Any] = {}
        _dynamo_requests.set_consistent_read(read, consistent_read, None)
        return _dynamo_calls.get_in_batches(self.dynamo_client, table, [self._keys(k) for k in keys_list], read,
                                            max(max_retries, 5), retry_wait_base_time, to_dict)

    # Writes ----------------------------------------------------------------------------------------------------

    def put(self, row: Dict[str, Any], table_name: Optional[str] = None, overwrite_existing: bool = True) -> None:
        """Put a row. Attributes missing from ``row_mapper`` are typed as :meth:`dict_to_dynamo` does with
        ``strict=False``.

        :param row: Column name -> value.
        :param table_name: Table; the config's ``table_name`` by default.
        :param overwrite_existing: If False and an item with the same hash key exists, raise
            :class:`~sosw.exceptions.ConditionCheckFailed` (see :meth:`create`).
        :raises ~sosw.exceptions.InvalidDynamoInput: The item is over DynamoDB's 400 KB, naming its key and size;
            nothing was sent.
        """
        request = self.build_put_query(row, table_name, overwrite_existing)
        table = request["TableName"]
        _dynamo_calls.check_item_sizes([(table, request["Item"])], self._name_item)
        with conditional_write(table, row, None if overwrite_existing else Attr(self._hash_key(table)).not_exists()):
            self.dynamo_client.put_item(**request)

    def create(self, row: Dict[str, Any], table_name: Optional[str] = None) -> None:
        """Put a row that must be new: :meth:`put` with ``overwrite_existing=False``.

        .. code-block:: python

            client = DynamoDbClient({'table_name': 'autotest_t', 'hash_key': 'id'})
            client.create({'id': '1'})
            try:
                client.create({'id': '1'})
            except client.dynamo_client.exceptions.ConditionalCheckFailedException:
                ...  # also a sosw.exceptions.ConditionCheckFailed

        :param row: Column name -> value.
        :param table_name: Table; the config's ``table_name`` by default.
        :raises ~sosw.exceptions.ConditionCheckFailed: An item with the same hash key exists; it is unchanged. Also
            an instance of the client's ``exceptions.ConditionalCheckFailedException``.
        """
        self.put(row, table_name, overwrite_existing=False)

    def update(self, keys: Dict[str, Any], attributes_to_update: Optional[Dict[str, Any]] = None,
               attributes_to_increment: Optional[Dict[str, Any]] = None, table_name: Optional[str] = None,
               condition_expression: Condition = None, attributes_to_remove: Optional[List[str]] = None) -> None:
        """Update an item, creating it if it does not exist (use :meth:`patch` to require that it exists).

        :param keys: Primary key of the item: ``{'hk': 'cat', 'rk': '123'}``.
        :param attributes_to_update: Attributes to set: ``{'col_name': 'some_value'}``.
        :param attributes_to_increment: Attributes to add to (created at the value if absent): ``{'counter': 3}``.
        :param table_name: Table; the config's ``table_name`` by default.
        :param condition_expression: Condition the item must meet (string or boto3 condition).
        :param attributes_to_remove: Attributes to remove.
        :raises ~sosw.exceptions.ConditionCheckFailed: The condition was false; nothing changed. Also an instance of
            the client's ``exceptions.ConditionalCheckFailedException``.
        """
        request = self._update_request(keys, attributes_to_update, attributes_to_increment, table_name,
                                       condition_expression, attributes_to_remove)
        with conditional_write(request["TableName"], keys, condition_expression):
            self.dynamo_client.update_item(**request)

    def patch(self, keys: Dict[str, Any], attributes_to_update: Optional[Dict[str, Any]] = None,
              attributes_to_increment: Optional[Dict[str, Any]] = None, table_name: Optional[str] = None,
              attributes_to_remove: Optional[List[str]] = None) -> None:
        """Update an item that must exist: :meth:`update` with the condition ``attribute_exists <hash_key>``.

        The hash key is the config's ``hash_key``, else the first attribute of ``keys`` (any attribute of the primary
        key exists exactly when the item does). Arguments as in :meth:`update`.

        :raises ~sosw.exceptions.ConditionCheckFailed: No item has these keys; nothing was created.
        """
        hash_key = self.config.get("hash_key") or next(iter(keys), None)
        self.update(keys=keys, attributes_to_update=attributes_to_update,
                    attributes_to_increment=attributes_to_increment, table_name=table_name,
                    condition_expression=f"attribute_exists {hash_key}", attributes_to_remove=attributes_to_remove)

    def delete(self, keys: Dict[str, Any], table_name: Optional[str] = None) -> None:
        """Delete an item by its primary key (nothing happens if there is none)."""
        self.dynamo_client.delete_item(**self.build_delete_query(keys, table_name))

    def batch_write(self, requests: Iterable[Tuple[str, str, Dict[str, Any]]], max_attempts: int = 8,
                    retry_wait_base_time: float = 0.05) -> int:
        """Write puts and deletes across tables with BatchWriteItem, 25 items and 16 MB a request.

        Items DynamoDB leaves unprocessed are sent again with exponential backoff and jitter; after
        ``max_attempts`` a :class:`~sosw.exceptions.SoswError` lists how many were not written.

        :param requests: ``(table_name, 'put' | 'delete', row or keys)`` triples.
        :return: Number of BatchWriteItem calls made.
        :raises ~sosw.exceptions.InvalidDynamoInput: An item is over DynamoDB's 400 KB, naming its key and size;
            nothing was sent.
        """
        writes: List[_dynamo_calls.TableWrite] = []
        for table_name, action, row in requests:
            table = self._table(table_name)
            if action == "put":
                writes.append((table, {"PutRequest": {"Item": self.dict_to_dynamo(row, strict=False)}}))
            elif action == "delete":
                writes.append((table, {"DeleteRequest": {"Key": self._keys(row)}}))
            else:
                raise ValueError(f"requests: action must be 'put' or 'delete', got {action!r}")
        return _dynamo_calls.write_in_batches(self.dynamo_client, writes, max_attempts, retry_wait_base_time,
                                              self._name_item)

    def batch_put(self, rows: Iterable[Dict[str, Any]], table_name: Optional[str] = None) -> int:
        """Put many rows with BatchWriteItem (25 a request, unprocessed items retried). Returns the call count."""
        table = self._table(table_name)
        return self.batch_write((table, "put", row) for row in rows)

    def batch_delete(self, keys_list: Iterable[Dict[str, Any]], table_name: Optional[str] = None) -> int:
        """Delete many items by key with BatchWriteItem. Returns the call count."""
        table = self._table(table_name)
        return self.batch_write((table, "delete", keys) for keys in keys_list)

    # Transactions ----------------------------------------------------------------------------------------------

    def transact_write(self, *transactions: Dict[str, Any]) -> None:
        """Execute write actions (from the ``make_*_transaction_item`` methods), on any tables.

        DynamoDB takes at most 100 actions and 4 MB (by its item-size rules) in one transaction: more are split into
        consecutive transactions, each atomic on its own, cut where the next action would not fit. Actions that must
        be atomic together are cut into transactions by :func:`transaction_batches` before this call. Each request
        carries a client token, so a retried request is not applied twice.

        .. code-block:: python

            t1 = client.make_put_transaction_item(row, table_name='table1')
            t2 = client.make_delete_transaction_item({'id': 1}, table_name='table2')
            client.transact_write(t1, t2)

        :raises ~sosw.exceptions.TransactionCancelled: With ``reasons``, one code per action of the failed
            transaction (``None`` for actions that were fine). Transactions before it were applied. Also an instance of
            the client's ``exceptions.TransactionCanceledException``.
        :raises ~sosw.exceptions.InvalidDynamoInput: An item put is over DynamoDB's 400 KB, naming its key and
            size; nothing was sent.
        """
        _dynamo_calls.transact_in_batches(self.dynamo_client, transactions, self._name_item)

    # Table metadata --------------------------------------------------------------------------------------------

    def _describe(self, table_name: Optional[str]) -> Dict[str, Any]:
        table = self._table(table_name)
        if table not in self._table_descriptions:
            self._table_descriptions[table] = dict(self.dynamo_client.describe_table(TableName=table)["Table"])
        return self._table_descriptions[table]

    def get_table_keys(self, table_name: Optional[str] = None) -> Tuple[str, Optional[str]]:
        """The table's hash key name and range key name (None if it has none)."""
        return _dynamo_tables.key_names(self._describe(table_name)["KeySchema"])

    def get_table_indexes(self, table_name: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
        """Active secondary indexes: ``{name: {'projection_type', 'hash_key', 'range_key',
        'provisioned_throughput': {'write_capacity', 'read_capacity'}}}``."""
        return _dynamo_tables.active_indexes(self._describe(table_name))

    def get_capacity(self, table_name: Optional[str] = None) -> Dict[str, int]:
        """Provisioned ``{'read': RCU, 'write': WCU}`` of the table; zeros for on-demand tables."""
        return _dynamo_tables.provisioned_capacity(self._describe(table_name))

    def identify_dynamo_capacity(self, table_name: Optional[str] = None) -> None:
        """Read and keep the table's capacity, for :meth:`sleep_db`."""
        table = self._table(table_name)
        self._capacity[table] = self.get_capacity(table)

    def sleep_db(self, last_action_time: datetime.datetime, action: str, table_name: Optional[str] = None) -> None:
        """Sleep long enough after ``last_action_time`` to stay within the table's provisioned capacity for
        ``action`` (``'read'`` or ``'write'``). On-demand tables never wait. Kept for compatibility: sosw's own code
        leaves throttling to botocore's retry mode.
        """
        if action not in ("read", "write"):
            raise InvalidChoice(f"expected 'read' or 'write', got {action!r}", field="action", value=action)
        table = self._table(table_name)
        if table not in self._capacity:
            self.identify_dynamo_capacity(table)
        wait = _dynamo_tables.seconds_to_wait(self._capacity[table][action], last_action_time)
        if wait:
            self.stats["dynamo_sleep_seconds"] += wait
            time.sleep(wait)

    # Stats -----------------------------------------------------------------------------------------------------

    def get_stats(self) -> Dict[str, Any]:
        """Statistics of the operations performed by this instance (calls per DynamoDB operation)."""
        return self.stats

    def reset_stats(self) -> None:
        """Clear the statistics."""
        self.stats = defaultdict(int)


def clean_dynamo_table(table_name: str = "autotest_dynamo_db", keys: Tuple[str, ...] = ("hash_col", "range_col"),
                       filter_expression: Optional[str] = None) -> int:
    """Delete every item (or those matching ``filter_expression``) of an ``autotest_`` table.

    :param table_name: Must start with ``autotest_``.
    :param keys: The key attributes of the table.
    :param filter_expression: A human condition (see :func:`parse_condition`).
    :return: The number of deleted items.
    """
    if not table_name.startswith(constants.AUTOTEST_PREFIX):
        raise InvalidTableName(f"clean_dynamo_table only cleans {constants.AUTOTEST_PREFIX}* tables",
                               field="table_name", value=table_name)
    client = DynamoDbClient({"table_name": table_name}, test=True)
    expressions = Expressions()
    request: Dict[str, Any] = {"TableName": table_name,
                               "ProjectionExpression": ", ".join(expressions.name(k) for k in keys)}
    condition = parse_condition(filter_expression)
    if condition is not None:
        request["FilterExpression"] = expressions.condition(condition)
    to_delete: List[Dict[str, Any]] = []
    for page in client.dynamo_client.get_paginator("scan").paginate(**expressions.apply(request)):
        # Exact key values: dynamo_to_dict would decode JSON-looking strings and round long decimals.
        to_delete.extend(_dynamo_marshal.exact_item(item) for item in page.get("Items", []))
    client.batch_delete(to_delete)
    return len(to_delete)
