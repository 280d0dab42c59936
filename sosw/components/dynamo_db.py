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
from botocore.config import Config
from botocore.exceptions import ClientError

from sosw import constants
from sosw.components._boto import make_client
from sosw.components.helpers import camel_case_to_underscore, chunks, to_bool
from sosw.exceptions import (
    ConditionCheckFailed,
    InvalidChoice,
    InvalidDynamoInput,
    InvalidTableName,
    SoswError,
    TransactionCancelled,
)

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
# What sosw 0.7.47 took for a number in an untyped string: digits with at most one dot, no sign.
_NUMERIC_TEXT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
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


def _guess_type(value: Any) -> Any:
    """The type sosw 0.7.47 gave an attribute the row_mapper does not declare: ``'true'``/``'false'`` text is a
    boolean, numeric-looking text (``'42'``, ``'1.5'``) a number; anything else keeps its Python type."""
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        if _NUMERIC_TEXT.fullmatch(value):
            return Decimal(value)
    return value


_CATCHABLE: Dict[Tuple[type, type], type] = {}


def _catchable_as(error_class: type, botocore_error: ClientError) -> type:
    """``error_class`` also derived from the class of ``botocore_error``: that is the modeled exception of the
    client that raised it (``client.exceptions.ConditionalCheckFailedException``), which users catch. botocore makes
    those classes per session, so the pair is built on demand."""
    modeled = type(botocore_error)
    if issubclass(error_class, modeled):
        return error_class
    key = (error_class, modeled)
    if key not in _CATCHABLE:
        _CATCHABLE[key] = type(error_class.__name__, (error_class, modeled),
                               {"__module__": error_class.__module__, "__doc__": error_class.__doc__})
    return _CATCHABLE[key]


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
            raise InvalidDynamoInput(f"{text!r} is not a number", field=field) from None
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
    :raises ~sosw.exceptions.InvalidDynamoInput: A ``ValueError`` (and ``AssertionError``) naming ``field`` and the
        part that could not be read.
    """
    if expression is None or isinstance(expression, ConditionBase):
        return expression
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidDynamoInput(f"expected a non-empty string or a boto3 condition, got {expression!r}", field=field)
    mapper = row_mapper or {}
    result: Optional[ConditionBase] = None
    pos = 0
    while pos < len(expression):
        match = _CLAUSE.match(expression, pos)
        if not match:
            raise InvalidDynamoInput(f"cannot read {expression[pos:]!r} in {expression!r}", field=field)
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
                raise InvalidDynamoInput(f"expected AND before {expression[pos:]!r} in {expression!r}", field=field)
            pos = joiner.end()
            if not expression[pos:].strip():
                raise InvalidDynamoInput(f"nothing after the last AND in {expression!r}", field=field)
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
    ``dynamo_client`` (the boto3 client, built here) and ``row_mapper`` are plain attributes: tests may assign
    a stand-in to them.

    :param config: ``row_mapper`` (attribute name -> DynamoDB type ``'S'``, ``'N'``, ``'BOOL'``, ``'M'``, ``'L'``),
        ``required_fields``, ``table_name``, ``hash_key`` (of the default table, for :meth:`create` and
        :meth:`patch`), ``index_name`` (default index of scans), ``region_name``, ``dont_json_loads_results``
        (do not decode JSON-object strings), ``fetch_all_fields`` (default for the methods' argument of that name).
    :param client: A boto3 DynamoDB client to use instead of a new one.
    :param test: Test mode: refuse tables whose names do not start with ``autotest_`` (the config table aside).
        Also on when the environment has ``STAGE=test``.

    .. code-block:: python

        client = DynamoDbClient({'table_name': 'sosw_tasks', 'hash_key': 'task_id',
                                 'row_mapper': {'task_id': 'S', 'greenfield': 'N'}})
        client.create({'task_id': 'abc', 'greenfield': 1000})
        client.get_by_query({'task_id': 'abc'}, consistent_read=True)
    """

    def __init__(self, config: Optional[Dict] = None, client: Any = None, test: bool = False, **kwargs):
        if config is not None and not isinstance(config, dict):
            raise InvalidDynamoInput(f"expected a dict, got {type(config).__name__}", field="config")
        self.config: Dict[str, Any] = dict(config or {})
        self.row_mapper: Dict[str, str] = dict(self.config.get("row_mapper") or {})
        self.test = bool(test) or os.environ.get(constants.ENV_STAGE) in constants.TEST_STAGES
        self.stats: Dict[str, Any] = defaultdict(int)
        if client is None:
            # Built here, not on first use: users' tests build the object inside ``patch('boto3.client')``.
            region = self.config.get("region_name")
            client = make_client("dynamodb", boto_config=Config(region_name=region) if region else None)
        self.dynamo_client: Any = client
        client.meta.events.register("before-call.dynamodb.*", self._count_call)
        self._table_descriptions: Dict[str, Dict] = {}
        self._capacity: Dict[str, Dict[str, int]] = {}

    # Plumbing --------------------------------------------------------------------------------------------------

    def _count_call(self, model: Any = None, **kwargs) -> None:
        self.stats[f"dynamo_{camel_case_to_underscore(model.name)}_calls"] += 1

    def _table(self, table_name: Optional[str]) -> str:
        name = table_name or self.config.get("table_name")
        if not name:
            raise InvalidTableName("not given and not in the client's config", field="table_name")
        if self.test and not name.startswith(constants.AUTOTEST_PREFIX) and name not in (
            constants.DEFAULT_CONFIG_TABLE, constants.AUTOTEST_CONFIG_TABLE, os.environ.get(constants.ENV_CONFIG_TABLE),
        ):
            raise InvalidTableName(f"{name!r} refused in test mode; use a table named {constants.AUTOTEST_PREFIX}*",
                                   field="table_name", value=name)
        return name

    def _hash_key(self, table: str) -> str:
        """The config's ``hash_key`` (as in sosw 0.7.47), else the table's own, read once."""
        return self.config.get("hash_key") or self.get_table_keys(table)[0]

    def _fetch_all(self, fetch_all_fields: Optional[bool], strict: Optional[bool] = None) -> bool:
        if fetch_all_fields is not None:
            return fetch_all_fields
        if strict is not None:  # the deprecated spelling of the opposite
            return not strict
        return bool(self.config.get("fetch_all_fields", not self.row_mapper))

    def _typed(self, name: str, value: Any, guess: bool = False) -> Any:
        """A Python value converted to what the row_mapper declares for ``name``; with ``guess``, an undeclared
        attribute is typed the way sosw 0.7.47 did (see :func:`_guess_type`)."""
        kind = self.row_mapper.get(name)
        if value is None:
            return None
        if kind is None and guess:
            value = _guess_type(value)
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

    def _serialize(self, name: str, value: Any, guess: bool = False) -> Dict[str, Any]:
        try:
            return _SERIALIZER.serialize(self._typed(name, value, guess))
        except TypeError as err:
            raise ValueError(f"{name}: cannot store {type(value).__name__} in DynamoDB ({err})") from None

    # Conversion ------------------------------------------------------------------------------------------------

    def dict_to_dynamo(self, row_dict: Dict, add_prefix: Optional[str] = None, strict: bool = True) -> Dict:
        """Convert a plain dict to DynamoDB's typed syntax, typing by ``row_mapper``.

        ``{'key1': 'value1', 'key2': 2}`` -> ``{'key1': {'S': 'value1'}, 'key2': {'N': '2'}}``

        :param row_dict: The row.
        :param add_prefix: A prefix for each key of the result (e.g. ``':'`` for expression values).
        :param strict: If True, attributes missing from ``row_mapper`` are left out, except one of the config's
            ``required_fields``, which raises ``ValueError``. If False they are typed as sosw 0.7.47 did: text
            ``'true'``/``'false'`` becomes ``BOOL``, numeric-looking text (``'42'``, ``'1.5'``) ``N``, any other
            value by its Python type. Without a ``row_mapper`` every attribute is typed by its Python value.
        """
        prefix = add_prefix or ""
        required = self.config.get("required_fields") or []
        result = {}
        for name, value in row_dict.items():
            if strict and self.row_mapper and name not in self.row_mapper:
                if name in required:
                    raise ValueError(f"{name}: a required field missing from row_mapper, so its type is unknown")
                logger.debug("dict_to_dynamo: %s is not in row_mapper; left out", name)
                continue
            if value is None:
                continue
            result[f"{prefix}{name}"] = self._serialize(name, value, guess=not strict)
        return result

    def dynamo_to_dict(self, dynamo_row: Dict, strict: Optional[bool] = None,
                       fetch_all_fields: Optional[bool] = None) -> Dict:
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
        fetch_all = self._fetch_all(fetch_all_fields, strict)
        decode = not self.config.get("dont_json_loads_results")
        result = {}
        for name, typed in dynamo_row.items():
            if not fetch_all:
                if name not in self.row_mapper:
                    continue
                if self.row_mapper[name] not in typed:
                    raise ValueError(f"{name}: row_mapper says {self.row_mapper[name]!r}, "
                                     f"but it is stored as {next(iter(typed), None)!r}")
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

    @staticmethod
    def _conditional_error(err: ClientError, table: str, keys: Any, condition: Any) -> Exception:
        """A failed condition as :class:`~sosw.exceptions.ConditionCheckFailed` that is also the modeled exception
        of the client that raised it; any other error unchanged."""
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return _catchable_as(ConditionCheckFailed, err)(err, table, keys, condition)
        return err

    @staticmethod
    def _consistent_read(request: Dict[str, Any], consistent_read: Optional[bool], index_name: Optional[str]) -> None:
        if consistent_read is None:
            return
        if consistent_read and index_name:
            raise InvalidDynamoInput(f"strongly consistent reads are not available on index {index_name!r}",
                                     field="consistent_read", value=consistent_read)
        request["ConsistentRead"] = consistent_read

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
                    raise InvalidDynamoInput(f"unsupported {op!r} for {name!r}; use one of {sorted(_COMPARISONS)}",
                                             field="comparisons")
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
                     expr_attrs_names: Optional[list] = None,
                     consistent_read: Optional[bool] = None) -> Union[List[Dict], int]:
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
        request = self._query_request(keys, table_name, index_name, comparisons, filter_expression, desc)
        self._consistent_read(request, consistent_read, index_name)
        fetch_all_fields = self._fetch_all(fetch_all_fields, strict)
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

    def _scan_pages(self, attrs: Optional[Dict], table_name: Optional[str], index_name: Optional[str],
                    consistent_read: Optional[bool]) -> Iterable[Dict]:
        expressions = _Expressions()
        request: Dict[str, Any] = {"TableName": self._table(table_name)}
        index_name = index_name or self.config.get("index_name")
        if index_name:
            request["IndexName"] = index_name
        if consistent_read is not None:
            request["ConsistentRead"] = consistent_read
        condition: Optional[ConditionBase] = None
        for name, value in (attrs or {}).items():
            # Typed as put() stores an undeclared attribute, so that what was written is found.
            clause = Attr(name).eq(self._typed(name, value, guess=True))
            condition = clause if condition is None else condition & clause
        if condition is not None:
            request["FilterExpression"] = expressions.condition(condition)
        return self.dynamo_client.get_paginator("scan").paginate(**expressions.apply(request))

    def get_by_scan(self, attrs: Optional[Dict] = None, table_name: Optional[str] = None,
                    index_name: Optional[str] = None, strict: Optional[bool] = None,
                    fetch_all_fields: Optional[bool] = None, consistent_read: Optional[bool] = None) -> List[Dict]:
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

    def get_by_scan_generator(self, attrs: Optional[Dict] = None, table_name: Optional[str] = None,
                              index_name: Optional[str] = None, strict: Optional[bool] = None,
                              fetch_all_fields: Optional[bool] = None,
                              consistent_read: Optional[bool] = None) -> Generator[List[Dict], None, None]:
        """Like :meth:`get_by_scan` (same arguments), but yields the items one page (a list) at a time."""
        fetch_all_fields = self._fetch_all(fetch_all_fields, strict)
        for page in self._scan_pages(attrs, table_name, index_name, consistent_read):
            yield [self.dynamo_to_dict(item, fetch_all_fields=fetch_all_fields) for item in page.get("Items", [])]

    def batch_get_items_one_table(self, keys_list: List[Dict], table_name: Optional[str] = None,
                                  max_retries: int = 0, retry_wait_base_time: float = 0.2,
                                  strict: Optional[bool] = None, fetch_all_fields: Optional[bool] = None,
                                  consistent_read: Optional[bool] = None) -> List[Dict]:
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
        fetch_all_fields = self._fetch_all(fetch_all_fields, strict)
        read: Dict[str, Any] = {}
        self._consistent_read(read, consistent_read, None)
        result: List[Dict] = []
        for batch in chunks([self._keys(k) for k in keys_list], constants.BATCH_GET_LIMIT):
            pending: Dict[str, Any] = {table: {"Keys": batch, **read}}
            for attempt in range(max(max_retries, 5) + 1):
                response = self.dynamo_client.batch_get_item(RequestItems=pending)
                result.extend(self.dynamo_to_dict(i, fetch_all_fields=fetch_all_fields)
                              for i in response.get("Responses", {}).get(table, []))
                unprocessed = (response.get("UnprocessedKeys") or {}).get(table, {}).get("Keys")
                pending = {table: {"Keys": unprocessed, **read}} if unprocessed else {}
                if not pending:
                    break
                time.sleep(retry_wait_base_time * (2 ** attempt))
            if pending:
                raise SoswError(f"batch_get_items_one_table: {len(pending[table]['Keys'])} keys of {table} "
                                f"still unprocessed after retries")
        return result

    # Writes ----------------------------------------------------------------------------------------------------

    def build_put_query(self, row: Dict, table_name: Optional[str] = None, overwrite_existing: bool = True) -> Dict:
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

    def build_delete_query(self, delete_keys: Dict, table_name: Optional[str] = None) -> Dict:
        """The arguments of a DeleteItem request: ``{'TableName': ..., 'Key': {typed keys}}``.

        :param delete_keys: Primary key of the item: ``{'hk': 'cat', 'rk': 123}``.
        :param table_name: Table; the config's ``table_name`` by default.
        """
        return {"TableName": self._table(table_name), "Key": self._keys(delete_keys)}

    def put(self, row: Dict, table_name: Optional[str] = None, overwrite_existing: bool = True) -> None:
        """Put a row. Attributes missing from ``row_mapper`` are typed as :meth:`dict_to_dynamo` does with
        ``strict=False``.

        :param row: Column name -> value.
        :param table_name: Table; the config's ``table_name`` by default.
        :param overwrite_existing: If False and an item with the same hash key exists, raise
            :class:`~sosw.exceptions.ConditionCheckFailed` (see :meth:`create`).
        """
        request = self.build_put_query(row, table_name, overwrite_existing)
        try:
            self.dynamo_client.put_item(**request)
        except ClientError as err:
            condition = None if overwrite_existing else Attr(self._hash_key(request["TableName"])).not_exists()
            raise self._conditional_error(err, request["TableName"], row, condition) from err

    def create(self, row: Dict, table_name: Optional[str] = None) -> None:
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

    def _update_request(self, keys: Dict, attributes_to_update: Optional[Dict], attributes_to_increment: Optional[Dict],
                        table_name: Optional[str], condition_expression: Any,
                        attributes_to_remove: Optional[Sequence[str]]) -> Dict[str, Any]:
        expressions = _Expressions()
        sets, adds = [], []
        for name, value in (attributes_to_update or {}).items():
            sets.append(f"{expressions.name(name)} = {expressions.value(self._typed(name, value, guess=True))}")
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
        :raises ~sosw.exceptions.ConditionCheckFailed: The condition was false; nothing changed. Also an instance of
            the client's ``exceptions.ConditionalCheckFailedException``.
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
        """Update an item that must exist: :meth:`update` with the condition ``attribute_exists <hash_key>``.

        The hash key is the config's ``hash_key``, else the first attribute of ``keys`` (any attribute of the primary
        key exists exactly when the item does). Arguments as in :meth:`update`.

        :raises ~sosw.exceptions.ConditionCheckFailed: No item has these keys; nothing was created.
        """
        hash_key = self.config.get("hash_key") or next(iter(keys), None)
        self.update(keys=keys, attributes_to_update=attributes_to_update,
                    attributes_to_increment=attributes_to_increment, table_name=table_name,
                    condition_expression=f"attribute_exists {hash_key}", attributes_to_remove=attributes_to_remove)

    def delete(self, keys: Dict, table_name: Optional[str] = None) -> None:
        """Delete an item by its primary key (nothing happens if there is none)."""
        self.dynamo_client.delete_item(**self.build_delete_query(keys, table_name))

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
        """A ``Put`` action for :meth:`transact_write`: :meth:`build_put_query` with an optional condition."""
        return {"Put": self._with_condition(self.build_put_query(row, table_name), condition_expression)}

    def make_update_transaction_item(self, keys: Dict, attributes_to_update: Optional[Dict] = None,
                                     attributes_to_increment: Optional[Dict] = None, table_name: Optional[str] = None,
                                     condition_expression: Union[str, ConditionBase, None] = None,
                                     attributes_to_remove: Optional[List[str]] = None) -> Dict:
        """An ``Update`` action for :meth:`transact_write`; arguments as in :meth:`update`."""
        return {"Update": self._update_request(keys, attributes_to_update, attributes_to_increment, table_name,
                                               condition_expression, attributes_to_remove)}

    def make_delete_transaction_item(self, row: Dict, table_name: Optional[str] = None,
                                     condition_expression: Union[str, ConditionBase, None] = None) -> Dict:
        """A ``Delete`` action for :meth:`transact_write`: :meth:`build_delete_query` with an optional condition.

        :param row: The item's primary key (other attributes are not allowed by DynamoDB).
        """
        return {"Delete": self._with_condition(self.build_delete_query(row, table_name), condition_expression)}

    def transact_write(self, *transactions: Dict) -> None:
        """Execute write actions (from the ``make_*_transaction_item`` methods), on any tables.

        DynamoDB takes at most 100 actions in one transaction: more are split into consecutive transactions, each
        atomic on its own. Each request carries a client token, so a retried request is not applied twice.

        .. code-block:: python

            t1 = client.make_put_transaction_item(row, table_name='table1')
            t2 = client.make_delete_transaction_item({'id': 1}, table_name='table2')
            client.transact_write(t1, t2)

        :raises ~sosw.exceptions.TransactionCancelled: With ``reasons``, one code per action of the failed
            transaction (``None`` for actions that were fine). Transactions before it were applied. Also an instance of
            the client's ``exceptions.TransactionCanceledException``.
        """
        for batch in chunks(list(transactions), constants.TRANSACT_WRITE_LIMIT):
            try:
                self.dynamo_client.transact_write_items(TransactItems=batch, ClientRequestToken=str(uuid.uuid4()))
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") if r.get("Code") not in (None, "None") else None
                           for r in err.response.get("CancellationReasons", [])]
                error_class = _catchable_as(TransactionCancelled, err)
                # Initialised as the ClientError it also is (TransactionCancelled's own __init__ would reach
                # ClientError's through super() with the wrong arguments); its message lists the reasons.
                error = error_class.__new__(error_class)
                ClientError.__init__(error, err.response, err.operation_name)
                error.reasons = reasons
                raise error from err

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
            raise InvalidChoice(f"expected 'read' or 'write', got {action!r}", field="action", value=action)
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
        raise InvalidTableName(f"clean_dynamo_table only cleans {constants.AUTOTEST_PREFIX}* tables",
                               field="table_name", value=table_name)
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
