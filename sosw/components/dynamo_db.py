"""
DynamoDB client with the conveniences sosw needs: plain dicts in and out, typed by a ``row_mapper``, every
attribute name escaped, pagination followed, batch writes and transactions chunked to DynamoDB's limits.

Marshalling is boto3's ``TypeSerializer``/``TypeDeserializer``; expressions are built from
``boto3.dynamodb.conditions``; throttling is retried by botocore's standard retry mode.

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
import json
import logging
import os
import random
import re
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any, Dict, Generator, Iterable, List, Optional, Sequence, Tuple, Union

from boto3.dynamodb.conditions import Attr, ConditionBase, ConditionExpressionBuilder, Key
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from sosw import constants
from sosw.components._boto import make_client
from sosw.components.helpers import camel_case_to_underscore, chunks, to_bool
from sosw.exceptions import ConditionCheckFailed, ConfigError, SoswError, TransactionCancelled

logger = logging.getLogger(__name__)

__all__ = ["DynamoDbClient", "clean_dynamo_table", "parse_condition"]

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()

_VALUE = r"(?:'[^']*'|\"[^\"]*\"|[^\s()]+)"
_CLAUSE = re.compile(
    rf"""\s*(?:
        (?P<fn>attribute_not_exists|attribute_exists)(?:\s*\(\s*|\s+)(?P<fn_attr>[^\s()]+)\s*\)?
      | (?P<b_attr>[^\s()]+)\s+between\s+(?P<low>{_VALUE})\s+and\s+(?P<high>{_VALUE})
      | begins_with\s*\(\s*(?P<bw_attr>[^\s,()]+)\s*,\s*(?P<prefix>{_VALUE})\s*\)
      | (?P<attr>[^\s<>=!()]+)\s*(?P<op><=|>=|<>|!=|=|<|>)\s*(?P<val>{_VALUE})
    )\s*""",
    re.X | re.I,
)
_AND = re.compile(r"and\s+", re.I)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_COMPARISONS = {
    "=": "eq", "==": "eq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "begins_with": "begins_with",
}


def _to_dynamo_number(value: Any) -> Any:
    """Recursively turn floats into Decimals, which is what TypeSerializer accepts."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo_number(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo_number(v) for v in value]
    return value


def _from_dynamo_number(value: Any) -> Any:
    """Recursively turn Decimals into int (when integral) or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo_number(v) for v in value]
    if isinstance(value, set):
        return {_from_dynamo_number(v) for v in value}
    return value


def _literal(text: str, attr_type: Optional[str], field: str = "filter_expression") -> Any:
    """A value written in a human condition string, typed by the row_mapper if it knows the attribute."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if attr_type == "S":
        return text
    if attr_type == "BOOL" or (attr_type is None and text.lower() in ("true", "false")):
        return text.lower() == "true"
    if attr_type == "N" or _NUMBER.match(text):
        try:
            return Decimal(text)
        except ArithmeticError:
            raise ValueError(f"{field}: {text!r} is not a number") from None
    return text


def parse_condition(expression: Union[str, ConditionBase, None], row_mapper: Optional[Dict[str, str]] = None,
                    field: str = "filter_expression") -> Optional[ConditionBase]:
    """Turn a human condition string into a ``boto3.dynamodb.conditions`` object.

    Supported clauses, joined by ``AND``: ``attribute_exists x``, ``attribute_not_exists x``, ``x <op> value`` with
    ``=``, ``<>``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``x between 10 and 20``, ``begins_with(x, abc)``. Values may
    be quoted; unquoted values are typed by ``row_mapper`` (else numbers become numbers). A condition object passes
    through unchanged.

    .. code-block:: python

        parse_condition('attribute_not_exists completed_at AND greenfield <= 42')

    :param expression: The string, a condition object or None.
    :param row_mapper: Attribute types, ``{'greenfield': 'N'}``.
    :param field: Name of the argument, for the error message.
    :raises ValueError: Naming ``field`` and the part that could not be read.
    """
    if expression is None or isinstance(expression, ConditionBase):
        return expression
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError(f"{field}: expected a non-empty string or a boto3 condition, got {expression!r}")
    mapper = row_mapper or {}
    result: Optional[ConditionBase] = None
    pos = 0
    while pos < len(expression):
        match = _CLAUSE.match(expression, pos)
        if not match:
            raise ValueError(f"{field}: cannot read {expression[pos:]!r} in {expression!r}")
        groups = match.groupdict()
        if groups["fn"]:
            attr = Attr(groups["fn_attr"])
            clause = attr.exists() if groups["fn"].lower() == "attribute_exists" else attr.not_exists()
        elif groups["b_attr"]:
            name = groups["b_attr"]
            clause = Attr(name).between(_literal(groups["low"], mapper.get(name), field),
                                        _literal(groups["high"], mapper.get(name), field))
        elif groups["bw_attr"]:
            clause = Attr(groups["bw_attr"]).begins_with(_literal(groups["prefix"], "S"))
        else:
            name, op = groups["attr"], groups["op"]
            value = _literal(groups["val"], mapper.get(name), field)
            clause = Attr(name).ne(value) if op in ("<>", "!=") else getattr(Attr(name), _COMPARISONS[op])(value)
        result = clause if result is None else result & clause
        pos = match.end()
        if pos < len(expression):
            joiner = _AND.match(expression, pos)
            if not joiner:
                raise ValueError(f"{field}: expected AND before {expression[pos:]!r} in {expression!r}")
            pos = joiner.end()
            if not expression[pos:].strip():
                raise ValueError(f"{field}: nothing after the last AND in {expression!r}")
    return result


def describe_condition(condition: Any) -> str:
    """Human text of a condition object (boto3 prints only its class), for error messages."""
    if not isinstance(condition, ConditionBase):
        return str(condition)
    expression = condition.get_expression()
    values = [describe_condition(v) if isinstance(v, ConditionBase)
              else getattr(v, "name", str(v) if isinstance(v, Decimal) else repr(v))
              for v in expression["values"]]
    return expression["format"].format(*values, operator=expression["operator"])


class _Expressions:
    """Builds the expression strings of one request with one set of placeholders, so none collide."""

    def __init__(self):
        self._builder = ConditionExpressionBuilder()
        self.names: Dict[str, str] = {}
        self.values: Dict[str, Any] = {}

    def condition(self, condition: ConditionBase, is_key_condition: bool = False) -> str:
        built = self._builder.build_expression(condition, is_key_condition=is_key_condition)
        self.names.update(built.attribute_name_placeholders)
        self.values.update(built.attribute_value_placeholders)
        return built.condition_expression

    def name(self, attribute: str) -> str:
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":u{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def apply(self, request: Dict[str, Any]) -> Dict[str, Any]:
        if self.names:
            request["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            request["ExpressionAttributeValues"] = {
                k: _SERIALIZER.serialize(_to_dynamo_number(v)) for k, v in self.values.items()
            }
        return request


class DynamoDbClient:
    """Has default methods for different types of DynamoDB tables.

    One table is the default (``table_name`` in config); every method takes ``table_name`` to use another.

    :param config: ``row_mapper`` (attribute name -> DynamoDB type ``'S'``, ``'N'``, ``'BOOL'``, ``'M'``, ``'L'``),
        ``required_fields``, ``table_name``, ``dont_json_loads_results`` (do not decode JSON-object strings),
        ``fetch_all_fields`` (default for the methods' argument of that name).
    :param client: A boto3 DynamoDB client to use instead of a new one.
    :param test: Test mode: refuse tables whose names do not start with ``autotest_`` (the config table aside).
        Also on when the environment has ``STAGE=test``.

    .. code-block:: python

        client = DynamoDbClient({'table_name': 'sosw_tasks', 'row_mapper': {'task_id': 'S', 'greenfield': 'N'}})
        client.get_by_query({'task_id': 'abc'})
    """

    def __init__(self, config: Optional[Dict] = None, client: Any = None, test: bool = False, **kwargs):
        if config is not None and not isinstance(config, dict):
            raise ConfigError(f"expected a dict, got {type(config).__name__}", config_name="dynamo_db_config")
        self.config: Dict[str, Any] = dict(config or {})
        self.row_mapper: Dict[str, str] = dict(self.config.get("row_mapper") or {})
        self.test = bool(test) or os.environ.get(constants.ENV_STAGE) in constants.TEST_STAGES
        self.stats: Dict[str, Any] = defaultdict(int)
        self._client = client
        if client is not None:
            client.meta.events.register("before-call.dynamodb.*", self._count_call)
        self._table_descriptions: Dict[str, Dict] = {}
        self._capacity: Dict[str, Dict[str, int]] = {}

    # Plumbing --------------------------------------------------------------------------------------------------

    @property
    def dynamo_client(self) -> Any:
        """The underlying boto3 DynamoDB client, created on first use."""
        if self._client is None:
            self._client = make_client("dynamodb")
            self._client.meta.events.register("before-call.dynamodb.*", self._count_call)
        return self._client

    def _count_call(self, model: Any = None, **kwargs) -> None:
        self.stats[f"dynamo_{camel_case_to_underscore(model.name)}_calls"] += 1

    def _table(self, table_name: Optional[str]) -> str:
        name = table_name or self.config.get("table_name")
        if not name:
            raise ValueError("table_name: not given and not in the client's config")
        if self.test and not name.startswith(constants.AUTOTEST_PREFIX) and name not in (
            constants.AUTOTEST_CONFIG_TABLE, os.environ.get(constants.ENV_CONFIG_TABLE),
        ):
            raise RuntimeError(f"table_name: {name!r} refused in test mode; "
                               f"use a table named {constants.AUTOTEST_PREFIX}*")
        return name

    def _fetch_all(self, fetch_all_fields: Optional[bool]) -> bool:
        if fetch_all_fields is not None:
            return fetch_all_fields
        return bool(self.config.get("fetch_all_fields", not self.row_mapper))

    def _typed(self, name: str, value: Any) -> Any:
        """A Python value converted to what the row_mapper declares for ``name``."""
        kind = self.row_mapper.get(name)
        if value is None:
            return None
        if kind == "S":
            return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) \
                else str(value)
        if kind == "N":
            if isinstance(value, bool):
                return Decimal(int(value))
            if isinstance(value, (datetime.datetime, datetime.date)):
                raise ValueError(f"{name}: a date cannot be stored as a number; convert it first")
            try:
                return Decimal(str(value))
            except ArithmeticError:
                raise ValueError(f"{name}: {value!r} is not a number (row_mapper says 'N')") from None
        if kind == "BOOL":
            return to_bool(value)
        return _to_dynamo_number(value)

    def _serialize(self, name: str, value: Any) -> Dict[str, Any]:
        try:
            return _SERIALIZER.serialize(self._typed(name, value))
        except TypeError as err:
            raise ValueError(f"{name}: cannot store {type(value).__name__} in DynamoDB ({err})") from None

    # Conversion ------------------------------------------------------------------------------------------------

    def dict_to_dynamo(self, row_dict: Dict, add_prefix: Optional[str] = None, strict: bool = True) -> Dict:
        """Convert a plain dict to DynamoDB's typed syntax, typing by ``row_mapper``.

        ``{'key1': 'value1', 'key2': 2}`` -> ``{'key1': {'S': 'value1'}, 'key2': {'N': '2'}}``

        :param row_dict: The row.
        :param add_prefix: A prefix for each key of the result (e.g. ``':'`` for expression values).
        :param strict: If True, attributes missing from ``row_mapper`` are left out (a missing
            ``required_fields`` attribute raises); if False they are typed by their Python value.
        """
        prefix = add_prefix or ""
        if strict:
            missing = [f for f in self.config.get("required_fields", []) if f not in row_dict]
            if missing:
                raise ValueError(f"{missing[0]}: required field missing from row")
        result = {}
        for name, value in row_dict.items():
            if strict and self.row_mapper and name not in self.row_mapper:
                continue
            if value is None:
                continue
            result[f"{prefix}{name}"] = self._serialize(name, value)
        return result

    def dynamo_to_dict(self, dynamo_row: Dict, strict: Optional[bool] = None,
                       fetch_all_fields: Optional[bool] = None) -> Dict:
        """Convert a DynamoDB typed row to a plain dict: numbers to int or float, JSON-object strings decoded
        (unless ``dont_json_loads_results``).

        ``{'key1': {'N': '3'}, 'key2': {'S': 'value2'}}`` -> ``{'key1': 3, 'key2': 'value2'}``

        :param dynamo_row: DynamoDB item.
        :param strict: Deprecated, ignored.
        :param fetch_all_fields: If False only ``row_mapper`` attributes are returned.
        """
        fetch_all = self._fetch_all(fetch_all_fields)
        decode = not self.config.get("dont_json_loads_results")
        result = {}
        for name, typed in dynamo_row.items():
            if not fetch_all and name not in self.row_mapper:
                continue
            value = _from_dynamo_number(_DESERIALIZER.deserialize(typed))
            if decode and isinstance(value, str) and value.startswith("{") and value.endswith("}"):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            result[name] = value
        return result

    def _keys(self, keys: Dict) -> Dict:
        if not isinstance(keys, dict) or not keys:
            raise ValueError(f"keys: expected a non-empty dict, got {keys!r}")
        return {name: self._serialize(name, value) for name, value in keys.items()}

    def _condition(self, condition: Union[str, ConditionBase, None], field: str) -> Optional[ConditionBase]:
        return parse_condition(condition, self.row_mapper, field=field)

    def _typed_key_value(self, name: str, value: Any) -> Any:
        return self._typed(name, value) if name in self.row_mapper else value

    def _conditional_error(self, err: ClientError, table: str, keys: Any, condition: Any) -> Exception:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return ConditionCheckFailed(err, table, keys, condition)
        return err

    # Reads -----------------------------------------------------------------------------------------------------

    def get_by_key(self, keys: Dict, table_name: Optional[str] = None, fetch_all_fields: Optional[bool] = None,
                   consistent_read: bool = False) -> Optional[Dict]:
        """One item by its full primary key (GetItem), or None.

        :param keys: Hash key (and range key) with values.
        :param consistent_read: Strongly consistent read.
        """
        response = self.dynamo_client.get_item(TableName=self._table(table_name), Key=self._keys(keys),
                                               ConsistentRead=consistent_read)
        item = response.get("Item")
        return self.dynamo_to_dict(item, fetch_all_fields=fetch_all_fields) if item else None

    def _query_request(self, keys: Dict, table_name: Optional[str], index_name: Optional[str],
                       comparisons: Optional[Dict], filter_expression: Any, desc: bool) -> Dict[str, Any]:
        comparisons = comparisons or {}
        expressions = _Expressions()
        key_condition: Optional[ConditionBase] = None
        between: Dict[str, Dict[str, Any]] = defaultdict(dict)
        for name, value in keys.items():
            for bound in ("st_between_", "en_between_"):
                if name.startswith(bound):
                    between[name[len(bound):]][bound] = value
                    break
            else:
                op = comparisons.get(name, "=")
                if op not in _COMPARISONS:
                    raise ValueError(f"comparisons: unsupported {op!r} for {name!r}; use one of {sorted(_COMPARISONS)}")
                clause = getattr(Key(name), _COMPARISONS[op])(self._typed_key_value(name, value))
                key_condition = clause if key_condition is None else key_condition & clause
        for name, bounds in between.items():
            if len(bounds) != 2:
                raise ValueError(f"keys: st_between_{name} and en_between_{name} must be given together")
            clause = Key(name).between(self._typed_key_value(name, bounds["st_between_"]),
                                       self._typed_key_value(name, bounds["en_between_"]))
            key_condition = clause if key_condition is None else key_condition & clause
        if key_condition is None:
            raise ValueError("keys: at least the hash key is required")
        request: Dict[str, Any] = {
            "TableName": self._table(table_name),
            "KeyConditionExpression": expressions.condition(key_condition, is_key_condition=True),
        }
        if index_name:
            request["IndexName"] = index_name
        if desc:
            request["ScanIndexForward"] = False
        condition = self._condition(filter_expression, "filter_expression")
        if condition is not None:
            request["FilterExpression"] = expressions.condition(condition)
        return expressions.apply(request)

    def get_by_query(self, keys: Dict, table_name: Optional[str] = None, index_name: Optional[str] = None,
                     comparisons: Optional[Dict] = None, max_items: Optional[int] = None,
                     filter_expression: Optional[str] = None, strict: Optional[bool] = None,
                     return_count: bool = False, desc: bool = False, fetch_all_fields: Optional[bool] = None,
                     expr_attrs_names: Optional[list] = None) -> Union[List[Dict], int]:
        """Query a table or index by key, following pagination.

        :param keys: The hash key and optionally the range key: ``{'hk': 'cat', 'rk': 100}``. For a between on the
            range key give ``st_between_rk`` and ``en_between_rk``.
        :param table_name: Table; the config's ``table_name`` by default.
        :param index_name: Secondary index to query.
        :param comparisons: Operator per key: ``=`` (default), ``<``, ``<=``, ``>``, ``>=``, ``begins_with``.
        :param max_items: Stop after this many items.
        :param filter_expression: A human condition (see :func:`parse_condition`) or a boto3 condition.
        :param strict: Deprecated, ignored.
        :param return_count: Return the number of matching items instead of the items.
        :param desc: Sort descending by the range key.
        :param fetch_all_fields: If False only ``row_mapper`` attributes are returned.
        :param expr_attrs_names: Kept for compatibility: every attribute name is escaped anyway.
        :return: Items as dicts, or their count.
        """
        request = self._query_request(keys, table_name, index_name, comparisons, filter_expression, desc)
        if return_count:
            request["Select"] = "COUNT"
        elif max_items and filter_expression is None:
            request["Limit"] = max_items  # read no more than needed: a queue can hold 100,000 items
        count = 0
        items: List[Dict] = []
        for page in self.dynamo_client.get_paginator("query").paginate(**request):
            if return_count:
                count += page.get("Count", 0)
                if max_items is not None and count >= max_items:
                    return max_items
                continue
            for item in page.get("Items", []):
                items.append(self.dynamo_to_dict(item, fetch_all_fields=fetch_all_fields))
                if max_items is not None and len(items) >= max_items:
                    return items
        return count if return_count else items

    def _scan_pages(self, attrs: Optional[Dict], table_name: Optional[str]) -> Iterable[Dict]:
        expressions = _Expressions()
        request: Dict[str, Any] = {"TableName": self._table(table_name)}
        condition: Optional[ConditionBase] = None
        for name, value in (attrs or {}).items():
            clause = Attr(name).eq(self._typed_key_value(name, value))
            condition = clause if condition is None else condition & clause
        if condition is not None:
            request["FilterExpression"] = expressions.condition(condition)
        return self.dynamo_client.get_paginator("scan").paginate(**expressions.apply(request))

    def get_by_scan(self, attrs: Optional[Dict] = None, table_name: Optional[str] = None,
                    strict: Optional[bool] = None, fetch_all_fields: Optional[bool] = None) -> List[Dict]:
        """Scan a table (slow: prefer :meth:`get_by_query`), optionally keeping items whose ``attrs`` equal the
        given values.

        :param attrs: Attribute names and values to match; empty for the whole table.
        :param strict: Deprecated, ignored.
        """
        return [item for page in self.get_by_scan_generator(attrs, table_name, fetch_all_fields=fetch_all_fields)
                for item in page]

    def get_by_scan_generator(self, attrs: Optional[Dict] = None, table_name: Optional[str] = None,
                              strict: Optional[bool] = None,
                              fetch_all_fields: Optional[bool] = None) -> Generator[List[Dict], None, None]:
        """Like :meth:`get_by_scan`, but yields the items one page (a list) at a time."""
        for page in self._scan_pages(attrs, table_name):
            yield [self.dynamo_to_dict(item, fetch_all_fields=fetch_all_fields) for item in page.get("Items", [])]

    def batch_get_items_one_table(self, keys_list: List[Dict], table_name: Optional[str] = None,
                                  max_retries: int = 0, retry_wait_base_time: float = 0.2,
                                  strict: Optional[bool] = None, fetch_all_fields: Optional[bool] = None) -> List[Dict]:
        """Items of one table by their full keys (BatchGetItem, 100 keys a request); missing keys are skipped.

        Keys DynamoDB leaves unprocessed are asked again with exponential backoff, at least 5 times (more if
        ``max_retries`` says so); if some are still unprocessed then, :class:`~sosw.exceptions.SoswError` is
        raised rather than returning a silently partial result.

        :param keys_list: Full primary keys.
        :param max_retries: Retries of unprocessed keys beyond the minimum.
        :param retry_wait_base_time: First wait in seconds; doubled at every retry.
        :param strict: Deprecated, ignored.
        """
        table = self._table(table_name)
        result: List[Dict] = []
        for batch in chunks([self._keys(k) for k in keys_list], constants.BATCH_GET_LIMIT):
            pending: Dict[str, Any] = {table: {"Keys": batch}}
            for attempt in range(max(max_retries, 5) + 1):
                response = self.dynamo_client.batch_get_item(RequestItems=pending)
                result.extend(self.dynamo_to_dict(i, fetch_all_fields=fetch_all_fields)
                              for i in response.get("Responses", {}).get(table, []))
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(retry_wait_base_time * (2 ** attempt))
            if pending:
                raise SoswError(f"batch_get_items_one_table: {len(pending[table]['Keys'])} keys of {table} "
                                f"still unprocessed after retries")
        return result

    # Writes ----------------------------------------------------------------------------------------------------

    def put(self, row: Dict, table_name: Optional[str] = None, overwrite_existing: bool = True) -> None:
        """Put a row.

        :param row: Column name -> value.
        :param table_name: Table; the config's ``table_name`` by default.
        :param overwrite_existing: If False and an item with the same key exists, raise
            :class:`~sosw.exceptions.ConditionCheckFailed`.
        """
        table = self._table(table_name)
        condition = None if overwrite_existing else Attr(self.get_table_keys(table)[0]).not_exists()
        request = self._with_condition({"TableName": table, "Item": self.dict_to_dynamo(row, strict=False)}, condition)
        try:
            self.dynamo_client.put_item(**request)
        except ClientError as err:
            raise self._conditional_error(err, table, row, condition) from err

    def _update_request(self, keys: Dict, attributes_to_update: Optional[Dict], attributes_to_increment: Optional[Dict],
                        table_name: Optional[str], condition_expression: Any,
                        attributes_to_remove: Optional[Sequence[str]]) -> Dict[str, Any]:
        expressions = _Expressions()
        sets, adds = [], []
        for name, value in (attributes_to_update or {}).items():
            sets.append(f"{expressions.name(name)} = {expressions.value(self._typed(name, value))}")
        for name, value in (attributes_to_increment or {}).items():
            try:
                amount = Decimal(str(value))
            except ArithmeticError:
                raise ValueError(f"attributes_to_increment: {name} must be a number, got {value!r}") from None
            adds.append(f"{expressions.name(name)} {expressions.value(amount)}")
        removes = [expressions.name(name) for name in (attributes_to_remove or [])]
        clauses = []
        if sets:
            clauses.append("SET " + ", ".join(sets))
        if adds:
            clauses.append("ADD " + ", ".join(adds))
        if removes:
            clauses.append("REMOVE " + ", ".join(removes))
        if not clauses:
            raise ValueError("attributes_to_update: nothing to update, increment or remove")
        request: Dict[str, Any] = {"TableName": self._table(table_name), "Key": self._keys(keys),
                                   "UpdateExpression": " ".join(clauses)}
        condition = self._condition(condition_expression, "condition_expression")
        if condition is not None:
            request["ConditionExpression"] = expressions.condition(condition)
        return expressions.apply(request)

    def update(self, keys: Dict, attributes_to_update: Optional[Dict] = None,
               attributes_to_increment: Optional[Dict] = None, table_name: Optional[str] = None,
               condition_expression: Union[str, ConditionBase, None] = None,
               attributes_to_remove: Optional[List[str]] = None) -> None:
        """Update an item, creating it if it does not exist (use :meth:`patch` to require that it exists).

        :param keys: Primary key of the item: ``{'hk': 'cat', 'rk': '123'}``.
        :param attributes_to_update: Attributes to set: ``{'col_name': 'some_value'}``.
        :param attributes_to_increment: Attributes to add to (created at the value if absent): ``{'counter': 3}``.
        :param table_name: Table; the config's ``table_name`` by default.
        :param condition_expression: Condition the item must meet (string or boto3 condition).
        :param attributes_to_remove: Attributes to remove.
        :raises ConditionCheckFailed: The condition was false; nothing changed.
        """
        request = self._update_request(keys, attributes_to_update, attributes_to_increment, table_name,
                                       condition_expression, attributes_to_remove)
        try:
            self.dynamo_client.update_item(**request)
        except ClientError as err:
            raise self._conditional_error(err, request["TableName"], keys, condition_expression) from err

    def patch(self, keys: Dict, attributes_to_update: Optional[Dict] = None,
              attributes_to_increment: Optional[Dict] = None, table_name: Optional[str] = None,
              attributes_to_remove: Optional[List[str]] = None) -> None:
        """Update an item that must exist.

        :raises ConditionCheckFailed: No item has these keys; nothing was created.
        """
        condition: Optional[ConditionBase] = None
        for name in keys:
            clause = Attr(name).exists()
            condition = clause if condition is None else condition & clause
        self.update(keys, attributes_to_update, attributes_to_increment, table_name, condition, attributes_to_remove)

    def delete(self, keys: Dict, table_name: Optional[str] = None) -> None:
        """Delete an item by its primary key (nothing happens if there is none)."""
        self.dynamo_client.delete_item(TableName=self._table(table_name), Key=self._keys(keys))

    def batch_write(self, requests: Iterable[Tuple[str, str, Dict]], max_attempts: int = 8,
                    retry_wait_base_time: float = 0.05) -> int:
        """Write puts and deletes across tables with BatchWriteItem, 25 a request.

        Items DynamoDB leaves unprocessed are sent again with exponential backoff and jitter; after
        ``max_attempts`` a :class:`~sosw.exceptions.SoswError` lists how many were not written.

        :param requests: ``(table_name, 'put' | 'delete', row or keys)`` triples.
        :return: Number of BatchWriteItem calls made.
        """
        calls = 0
        typed = []
        for table_name, action, row in requests:
            table = self._table(table_name)
            if action == "put":
                typed.append((table, {"PutRequest": {"Item": self.dict_to_dynamo(row, strict=False)}}))
            elif action == "delete":
                typed.append((table, {"DeleteRequest": {"Key": self._keys(row)}}))
            else:
                raise ValueError(f"requests: action must be 'put' or 'delete', got {action!r}")
        for batch in chunks(typed, constants.BATCH_WRITE_LIMIT):
            pending: Dict[str, List] = defaultdict(list)
            for table, request in batch:
                pending[table].append(request)
            for attempt in range(max_attempts):
                response = self.dynamo_client.batch_write_item(RequestItems=dict(pending))
                calls += 1
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(retry_wait_base_time * (2 ** attempt) * (1 + random.random()))
            if pending:
                left = sum(len(v) for v in pending.values())
                raise SoswError(f"batch_write: {left} items still unprocessed after {max_attempts} attempts")
        return calls

    def batch_put(self, rows: Iterable[Dict], table_name: Optional[str] = None) -> int:
        """Put many rows with BatchWriteItem (25 a request, unprocessed items retried). Returns the call count."""
        table = self._table(table_name)
        return self.batch_write((table, "put", row) for row in rows)

    def batch_delete(self, keys_list: Iterable[Dict], table_name: Optional[str] = None) -> int:
        """Delete many items by key with BatchWriteItem. Returns the call count."""
        table = self._table(table_name)
        return self.batch_write((table, "delete", keys) for keys in keys_list)

    # Transactions ----------------------------------------------------------------------------------------------

    def _with_condition(self, request: Dict[str, Any], condition_expression: Any) -> Dict[str, Any]:
        condition = self._condition(condition_expression, "condition_expression")
        if condition is not None:
            expressions = _Expressions()
            request["ConditionExpression"] = expressions.condition(condition)
            expressions.apply(request)
        return request

    def make_put_transaction_item(self, row: Dict, table_name: Optional[str] = None,
                                  condition_expression: Union[str, ConditionBase, None] = None) -> Dict:
        """A ``Put`` action for :meth:`transact_write`."""
        return {"Put": self._with_condition(
            {"TableName": self._table(table_name), "Item": self.dict_to_dynamo(row, strict=False)},
            condition_expression)}

    def make_update_transaction_item(self, keys: Dict, attributes_to_update: Optional[Dict] = None,
                                     attributes_to_increment: Optional[Dict] = None, table_name: Optional[str] = None,
                                     condition_expression: Union[str, ConditionBase, None] = None,
                                     attributes_to_remove: Optional[List[str]] = None) -> Dict:
        """An ``Update`` action for :meth:`transact_write`; arguments as in :meth:`update`."""
        return {"Update": self._update_request(keys, attributes_to_update, attributes_to_increment, table_name,
                                               condition_expression, attributes_to_remove)}

    def make_delete_transaction_item(self, keys: Dict, table_name: Optional[str] = None,
                                     condition_expression: Union[str, ConditionBase, None] = None) -> Dict:
        """A ``Delete`` action for :meth:`transact_write`."""
        return {"Delete": self._with_condition({"TableName": self._table(table_name), "Key": self._keys(keys)},
                                               condition_expression)}

    def transact_write(self, *transactions: Dict) -> None:
        """Execute write actions (from the ``make_*_transaction_item`` methods), on any tables.

        DynamoDB takes at most 100 actions in one transaction: more are split into consecutive transactions, each
        atomic on its own. Each request carries a client token, so a retried request is not applied twice.

        .. code-block:: python

            t1 = client.make_put_transaction_item(row, table_name='table1')
            t2 = client.make_delete_transaction_item({'id': 1}, table_name='table2')
            client.transact_write(t1, t2)

        :raises TransactionCancelled: With ``reasons``, one code per action of the failed transaction (``None``
            for actions that were fine). Transactions before it were applied.
        """
        for batch in chunks(list(transactions), constants.TRANSACT_WRITE_LIMIT):
            try:
                self.dynamo_client.transact_write_items(TransactItems=batch, ClientRequestToken=str(uuid.uuid4()))
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") if r.get("Code") not in (None, "None") else None
                           for r in err.response.get("CancellationReasons", [])]
                raise TransactionCancelled(f"transaction cancelled: {reasons}", reasons) from err

    # Table metadata --------------------------------------------------------------------------------------------

    def _describe(self, table_name: Optional[str]) -> Dict:
        table = self._table(table_name)
        if table not in self._table_descriptions:
            self._table_descriptions[table] = self.dynamo_client.describe_table(TableName=table)["Table"]
        return self._table_descriptions[table]

    def get_table_keys(self, table_name: Optional[str] = None) -> Tuple[str, Optional[str]]:
        """The table's hash key name and range key name (None if it has none)."""
        schema = self._describe(table_name)["KeySchema"]
        hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
        range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
        return hash_key, range_key

    def get_table_indexes(self, table_name: Optional[str] = None) -> Dict[str, Dict]:
        """Active secondary indexes: ``{name: {'projection_type', 'hash_key', 'range_key',
        'provisioned_throughput': {'write_capacity', 'read_capacity'}}}``."""
        description = self._describe(table_name)
        result = {}
        for index in description.get("GlobalSecondaryIndexes", []) + description.get("LocalSecondaryIndexes", []):
            if index.get("IndexStatus", "ACTIVE") != "ACTIVE":
                continue
            schema = index["KeySchema"]
            throughput = index.get("ProvisionedThroughput", {})
            result[index["IndexName"]] = {
                "projection_type": index["Projection"]["ProjectionType"],
                "hash_key": next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH"),
                "range_key": next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None),
                "provisioned_throughput": {
                    "write_capacity": throughput.get("WriteCapacityUnits", 0),
                    "read_capacity": throughput.get("ReadCapacityUnits", 0),
                },
            }
        return result

    def get_capacity(self, table_name: Optional[str] = None) -> Dict[str, int]:
        """Provisioned ``{'read': RCU, 'write': WCU}`` of the table; zeros for on-demand tables."""
        throughput = self._describe(table_name).get("ProvisionedThroughput", {})
        return {"read": int(throughput.get("ReadCapacityUnits", 0)),
                "write": int(throughput.get("WriteCapacityUnits", 0))}

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
            raise ValueError(f"action: expected 'read' or 'write', got {action!r}")
        table = self._table(table_name)
        if table not in self._capacity:
            self.identify_dynamo_capacity(table)
        capacity = self._capacity[table][action]
        if capacity <= 0:
            return
        elapsed = (datetime.datetime.now() - last_action_time).total_seconds()
        wait = 1.0 / capacity - elapsed
        if wait > 0:
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
        raise RuntimeError(f"table_name: clean_dynamo_table only cleans {constants.AUTOTEST_PREFIX}* tables")
    client = DynamoDbClient({"table_name": table_name}, test=True)
    expressions = _Expressions()
    request: Dict[str, Any] = {"TableName": table_name,
                               "ProjectionExpression": ", ".join(expressions.name(k) for k in keys)}
    condition = parse_condition(filter_expression)
    if condition is not None:
        request["FilterExpression"] = expressions.condition(condition)
    to_delete = []
    for page in client.dynamo_client.get_paginator("scan").paginate(**expressions.apply(request)):
        # Exact key values: dynamo_to_dict would decode JSON-looking strings and round long decimals.
        to_delete.extend({k: _DESERIALIZER.deserialize(v) for k, v in i.items()} for i in page.get("Items", []))
    client.batch_delete(to_delete)
    return len(to_delete)
