"""The arguments of DynamoDB requests, built as data before anything is sent: a query, a scan, an update, a
conditional put or delete. Values are typed by the ``row_mapper``; names and values go through one
:class:`~sosw.components._dynamo_expressions.Expressions` per request, so their placeholders never collide.

``_RequestBuilder`` is the part of ``DynamoDbClient`` that builds them (and converts rows) without calling DynamoDB;
``DynamoDbClient`` adds the calls.
"""

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from boto3.dynamodb.conditions import Attr, ConditionBase

from sosw import constants
from sosw.components._dynamo_expressions import (
    Condition,
    Expressions,
    Typer,
    equality_filter,
    key_condition,
    parse_condition,
    update_expression,
)
from sosw.components._dynamo_marshal import (
    RowMapper,
    row_from_dynamo,
    row_to_dynamo,
    serialize_keys,
    typed_key_value,
    typed_value,
)
from sosw.components._dynamo_tables import resolve_table
from sosw.exceptions import InvalidDynamoInput

Request = Dict[str, Any]


def set_consistent_read(request: Request, consistent_read: Optional[bool], index_name: Optional[str]) -> None:
    """Add ``ConsistentRead`` to ``request`` unless it is None (DynamoDB's default then).

    :raises ~sosw.exceptions.InvalidDynamoInput: A strongly consistent read of an index, which DynamoDB refuses.
    """
    if consistent_read is None:
        return
    if consistent_read and index_name:
        raise InvalidDynamoInput(f"strongly consistent reads are not available on index {index_name!r}",
                                 field="consistent_read", value=consistent_read)
    request["ConsistentRead"] = consistent_read


def with_condition(request: Request, condition: Optional[ConditionBase]) -> Request:
    """``request`` (a put or a delete) conditioned on ``condition``, if there is one."""
    if condition is not None:
        expressions = Expressions()
        request["ConditionExpression"] = expressions.condition(condition)
        expressions.apply(request)
    return request


def query_request(table: str, keys: Mapping[str, Any], row_mapper: RowMapper, *, index_name: Optional[str],
                  comparisons: Optional[Mapping[str, str]], query_filter: Optional[ConditionBase], desc: bool,
                  consistent_read: Optional[bool]) -> Request:
    """A Query: the key condition of ``keys`` (see :func:`~sosw.components._dynamo_expressions.key_condition`),
    key values typed only where the ``row_mapper`` declares them."""
    expressions = Expressions()
    condition = key_condition(keys, comparisons, lambda name, value: typed_key_value(row_mapper, name, value))
    request: Request = {"TableName": table,
                        "KeyConditionExpression": expressions.condition(condition, is_key_condition=True)}
    if index_name:
        request["IndexName"] = index_name
    if desc:
        request["ScanIndexForward"] = False
    if query_filter is not None:
        request["FilterExpression"] = expressions.condition(query_filter)
    set_consistent_read(request, consistent_read, index_name)
    return expressions.apply(request)


def guessed_value(row_mapper: RowMapper) -> Typer:
    """The typer of written values: an attribute the ``row_mapper`` does not declare is typed as sosw 0.7.47 guessed
    it (see :func:`~sosw.components._dynamo_marshal.guess_type`)."""
    return lambda name, value: typed_value(row_mapper, name, value, guess=True)


def scan_request(table: str, attrs: Optional[Mapping[str, Any]], row_mapper: RowMapper, *,
                 index_name: Optional[str], consistent_read: Optional[bool]) -> Request:
    """A Scan keeping the items whose attributes equal ``attrs``, typed as a put stores them so that what was
    written is found."""
    expressions = Expressions()
    request: Request = {"TableName": table}
    if index_name:
        request["IndexName"] = index_name
    if consistent_read is not None:
        request["ConsistentRead"] = consistent_read
    scan_filter = equality_filter(attrs, guessed_value(row_mapper))
    if scan_filter is not None:
        request["FilterExpression"] = expressions.condition(scan_filter)
    return expressions.apply(request)


def update_request(table: str, typed_keys: Mapping[str, Any], row_mapper: RowMapper, *,
                   attributes_to_update: Optional[Mapping[str, Any]],
                   attributes_to_increment: Optional[Mapping[str, Any]], attributes_to_remove: Optional[Sequence[str]],
                   condition: Optional[ConditionBase]) -> Request:
    """An UpdateItem that sets, adds to and removes attributes, on ``condition`` if there is one."""
    expressions = Expressions()
    update = update_expression(expressions, attributes_to_update, attributes_to_increment, attributes_to_remove,
                               guessed_value(row_mapper))
    request: Request = {"TableName": table, "Key": dict(typed_keys), "UpdateExpression": update}
    if condition is not None:
        request["ConditionExpression"] = expressions.condition(condition)
    return expressions.apply(request)


class _RequestBuilder:
    """The half of :class:`~sosw.components.dynamo_db.DynamoDbClient` that sends nothing: which table a call means,
    rows converted by the ``row_mapper``, and the requests (and transaction actions) built as data.

    The one thing it needs from DynamoDB is a table's hash key when the config has no ``hash_key``: subclasses
    provide :meth:`get_table_keys`.
    """

    def __init__(self, config: Optional[Dict[str, Any]], test: bool) -> None:
        if config is not None and not isinstance(config, dict):
            raise InvalidDynamoInput(f"expected a dict, got {type(config).__name__}", field="config")
        self.config: Dict[str, Any] = dict(config or {})
        self.row_mapper: Dict[str, str] = dict(self.config.get("row_mapper") or {})
        self.test = bool(test) or os.environ.get(constants.ENV_STAGE) in constants.TEST_STAGES

    def get_table_keys(self, table_name: Optional[str] = None) -> Tuple[str, Optional[str]]:
        """The table's hash key name and range key name (None if it has none)."""
        raise NotImplementedError

    def _table(self, table_name: Optional[str]) -> str:
        return resolve_table(table_name, self.config.get("table_name"), self.test)

    def _hash_key(self, table: str) -> str:
        """The config's ``hash_key`` (as in sosw 0.7.47), else the table's own, read once."""
        return self.config.get("hash_key") or self.get_table_keys(table)[0]

    def _fetch_all(self, fetch_all_fields: Optional[bool], strict: Optional[bool] = None) -> bool:
        if fetch_all_fields is not None:
            return fetch_all_fields
        if strict is not None:  # the deprecated spelling of the opposite
            return not strict
        return bool(self.config.get("fetch_all_fields", not self.row_mapper))

    def _keys(self, keys: Dict[str, Any]) -> Dict[str, Any]:
        return serialize_keys(self.row_mapper, keys)

    def _condition(self, condition: Condition, field: str) -> Optional[ConditionBase]:
        return parse_condition(condition, self.row_mapper, field=field)

    def _with_condition(self, request: Dict[str, Any], condition_expression: Condition) -> Dict[str, Any]:
        return with_condition(request, self._condition(condition_expression, "condition_expression"))

    def _update_request(self, keys: Dict[str, Any], attributes_to_update: Optional[Dict[str, Any]],
                        attributes_to_increment: Optional[Dict[str, Any]],
                        table_name: Optional[str], condition_expression: Condition,
                        attributes_to_remove: Optional[Sequence[str]]) -> Dict[str, Any]:
        return update_request(
            self._table(table_name), self._keys(keys), self.row_mapper, attributes_to_update=attributes_to_update,
            attributes_to_increment=attributes_to_increment, attributes_to_remove=attributes_to_remove,
            condition=self._condition(condition_expression, "condition_expression"))

    def dict_to_dynamo(self, row_dict: Dict[str, Any], add_prefix: Optional[str] = None,
                       strict: bool = True) -> Dict[str, Any]:
        """Convert a plain dict to DynamoDB's typed syntax, typing by ``row_mapper``.

        ``{'key1': 'value1', 'key2': 2}`` -> ``{'key1': {'S': 'value1'}, 'key2': {'N': '2'}}``

        :param row_dict: The row.
        :param add_prefix: A prefix for each key of the result (e.g. ``':'`` for expression values).
        :param strict: If True, attributes missing from ``row_mapper`` are left out, except one of the config's
            ``required_fields``, which raises ``ValueError``. If False they are typed as sosw 0.7.47 did: text
            ``'true'``/``'false'`` becomes ``BOOL``, numeric-looking text (``'42'``, ``'1.5'``) ``N``, any other
            value by its Python type. Without a ``row_mapper`` every attribute is typed by its Python value.
        """
        return row_to_dynamo(self.row_mapper, row_dict, required=self.config.get("required_fields") or (),
                             prefix=add_prefix or "", strict=strict)

    def dynamo_to_dict(self, dynamo_row: Dict[str, Any], strict: Optional[bool] = None,
                       fetch_all_fields: Optional[bool] = None) -> Dict[str, Any]:
        """Convert a DynamoDB typed row to a plain dict: numbers to int or float, JSON-object strings decoded
        (unless ``dont_json_loads_results``).

        ``{'key1': {'N': '3'}, 'key2': {'S': 'value2'}}`` -> ``{'key1': 3, 'key2': 'value2'}``

        :param dynamo_row: DynamoDB item.
        :param strict: Deprecated: the opposite of ``fetch_all_fields``.
        :param fetch_all_fields: If False only ``row_mapper`` attributes are returned, each checked to be stored with
            its declared type.
        :raises ValueError: An attribute of ``row_mapper`` is stored with another type (only checked when not
            fetching all fields, as sosw 0.7.47 did).
        """
        return row_from_dynamo(self.row_mapper, dynamo_row, fetch_all=self._fetch_all(fetch_all_fields, strict),
                               decode_json=not self.config.get("dont_json_loads_results"))

    def build_put_query(self, row: Dict[str, Any], table_name: Optional[str] = None,
                        overwrite_existing: bool = True) -> Dict[str, Any]:
        """The arguments of a PutItem request for ``row`` (typed as ``dict_to_dynamo(row, strict=False)``).

        .. code-block:: python

            client.build_put_query({'task_id': 'abc'}, overwrite_existing=False)
            # {'TableName': 'sosw_tasks', 'Item': {'task_id': {'S': 'abc'}},
            #  'ConditionExpression': 'attribute_not_exists(#n0)', 'ExpressionAttributeNames': {'#n0': 'task_id'}}

        :param row: Column name -> value.
        :param table_name: Table; the config's ``table_name`` by default.
        :param overwrite_existing: If False, the request is conditioned on the hash key not existing: the config's
            ``hash_key``, else the table's (read with DescribeTable once).
        """
        table = self._table(table_name)
        request = {"TableName": table, "Item": self.dict_to_dynamo(row, strict=False)}
        if overwrite_existing:
            return request
        return self._with_condition(request, Attr(self._hash_key(table)).not_exists())

    def build_delete_query(self, delete_keys: Dict[str, Any], table_name: Optional[str] = None) -> Dict[str, Any]:
        """The arguments of a DeleteItem request: ``{'TableName': ..., 'Key': {typed keys}}``.

        :param delete_keys: Primary key of the item: ``{'hk': 'cat', 'rk': 123}``.
        :param table_name: Table; the config's ``table_name`` by default.
        """
        return {"TableName": self._table(table_name), "Key": self._keys(delete_keys)}

    def make_put_transaction_item(self, row: Dict[str, Any], table_name: Optional[str] = None,
                                  condition_expression: Condition = None) -> Dict[str, Any]:
        """A ``Put`` action for :meth:`transact_write`: :meth:`build_put_query` with an optional condition."""
        return {"Put": self._with_condition(self.build_put_query(row, table_name), condition_expression)}

    def make_update_transaction_item(self, keys: Dict[str, Any], attributes_to_update: Optional[Dict[str, Any]] = None,
                                     attributes_to_increment: Optional[Dict[str, Any]] = None,
                                     table_name: Optional[str] = None,
                                     condition_expression: Condition = None,
                                     attributes_to_remove: Optional[List[str]] = None) -> Dict[str, Any]:
        """An ``Update`` action for :meth:`transact_write`; arguments as in :meth:`update`."""
        return {"Update": self._update_request(keys, attributes_to_update, attributes_to_increment, table_name,
                                               condition_expression, attributes_to_remove)}

    def make_delete_transaction_item(self, row: Dict[str, Any], table_name: Optional[str] = None,
                                     condition_expression: Condition = None) -> Dict[str, Any]:
        """A ``Delete`` action for :meth:`transact_write`: :meth:`build_delete_query` with an optional condition.

        :param row: The item's primary key (other attributes are not allowed by DynamoDB).
        """
        return {"Delete": self._with_condition(self.build_delete_query(row, table_name), condition_expression)}
