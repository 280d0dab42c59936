"""Plain Python values to DynamoDB's typed syntax and back, typed by a ``row_mapper``.

Marshalling is boto3's ``TypeSerializer``/``TypeDeserializer``; what this module adds is the typing sosw promises:
a ``row_mapper`` (attribute name -> ``'S'``, ``'N'``, ``'BOOL'``, ``'M'``, ``'L'``) decides the stored type, numbers
come back as ``int`` or ``float``, and an attribute the ``row_mapper`` does not declare is typed the way sosw 0.7.47
guessed it. Every function takes the ``row_mapper`` as an argument because ``DynamoDbClient.row_mapper`` is a plain
attribute that callers may reassign.

:func:`item_size` measures an item in DynamoDB's typed syntax by AWS's item-size rules, for the limits of
``_dynamo_calls``.
"""

import base64
import datetime
import json
import logging
import re
from decimal import Decimal
from typing import Any, Dict, Iterable, Mapping

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from sosw.components.helpers import to_bool

logger = logging.getLogger(__name__)

#: A ``row_mapper``: attribute name -> DynamoDB type.
RowMapper = Mapping[str, str]
#: One value in DynamoDB's typed syntax, ``{'S': 'abc'}``.
TypedValue = Mapping[str, Any]

SERIALIZER = TypeSerializer()
DESERIALIZER = TypeDeserializer()

# What sosw 0.7.47 took for a number in an untyped string: digits with at most one dot, no sign.
_NUMERIC_TEXT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


def to_dynamo_number(value: Any) -> Any:
    """Recursively turn floats into Decimals, which is what TypeSerializer accepts."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: to_dynamo_number(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_dynamo_number(v) for v in value]
    return value


def from_dynamo_number(value: Any) -> Any:
    """Recursively turn Decimals into int (when integral) or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo_number(v) for v in value]
    if isinstance(value, set):
        return {from_dynamo_number(v) for v in value}
    return value


def guess_type(value: Any) -> Any:
    """The type sosw 0.7.47 gave an attribute the row_mapper does not declare: ``'true'``/``'false'`` text is a
    boolean, numeric-looking text (``'42'``, ``'1.5'``) a number; anything else keeps its Python type."""
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        if _NUMERIC_TEXT.fullmatch(value):
            return Decimal(value)
    return value


def typed_value(row_mapper: RowMapper, name: str, value: Any, guess: bool = False) -> Any:
    """``value`` converted to what ``row_mapper`` declares for ``name``; with ``guess``, an undeclared attribute is
    typed by :func:`guess_type`."""
    kind = row_mapper.get(name)
    if value is None:
        return None
    if kind is None and guess:
        value = guess_type(value)
    if kind == "S":
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
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
    return to_dynamo_number(value)


def typed_key_value(row_mapper: RowMapper, name: str, value: Any) -> Any:
    """A key value in a key condition: typed when the row_mapper declares it, never guessed (keys are not
    retyped)."""
    return typed_value(row_mapper, name, value) if name in row_mapper else value


def serialize_value(row_mapper: RowMapper, name: str, value: Any, guess: bool = False) -> TypedValue:
    """One attribute in DynamoDB's typed syntax, typed as :func:`typed_value` does.

    :raises ValueError: Naming ``name``, for a value DynamoDB cannot store.
    """
    try:
        return SERIALIZER.serialize(typed_value(row_mapper, name, value, guess))
    except TypeError as err:
        raise ValueError(f"{name}: cannot store {type(value).__name__} in DynamoDB ({err})") from None


def serialize_values(values: Mapping[str, Any]) -> Dict[str, TypedValue]:
    """Expression attribute values, already typed, in DynamoDB's typed syntax."""
    return {k: SERIALIZER.serialize(to_dynamo_number(v)) for k, v in values.items()}


def serialize_keys(row_mapper: RowMapper, keys: Any) -> Dict[str, TypedValue]:
    """A primary key in DynamoDB's typed syntax.

    :raises ValueError: ``keys`` is no dict or is empty.
    """
    if not isinstance(keys, dict) or not keys:
        raise ValueError(f"keys: expected a non-empty dict, got {keys!r}")
    return {name: serialize_value(row_mapper, name, value) for name, value in keys.items()}


def row_to_dynamo(row_mapper: RowMapper, row: Mapping[str, Any], *, required: Iterable[str] = (),
                  prefix: str = "", strict: bool = True) -> Dict[str, TypedValue]:
    """A plain row in DynamoDB's typed syntax; ``None`` values are left out.

    :param required: Attributes that must be declared in ``row_mapper`` when ``strict``.
    :param prefix: Prepended to every name of the result.
    :param strict: Leave out attributes ``row_mapper`` does not declare (a ``required`` one raises ``ValueError``);
        if False they are typed by :func:`guess_type`. Without a ``row_mapper`` every attribute is kept.
    """
    required = set(required)
    result: Dict[str, TypedValue] = {}
    for name, value in row.items():
        if strict and row_mapper and name not in row_mapper:
            if name in required:
                raise ValueError(f"{name}: a required field missing from row_mapper, so its type is unknown")
            logger.debug("dict_to_dynamo: %s is not in row_mapper; left out", name)
            continue
        if value is not None:
            result[f"{prefix}{name}"] = serialize_value(row_mapper, name, value, guess=not strict)
    return result


def row_from_dynamo(row_mapper: RowMapper, item: Mapping[str, Any], *, fetch_all: bool,
                    decode_json: bool) -> Dict[str, Any]:
    """A DynamoDB item as a plain row: numbers as int or float, JSON-object strings decoded if ``decode_json``.

    :param fetch_all: If False only ``row_mapper`` attributes are returned, each checked to be stored with its
        declared type.
    :raises ValueError: An attribute is stored with another type than ``row_mapper`` declares (checked only when
        not ``fetch_all``, as sosw 0.7.47 did).
    """
    result: Dict[str, Any] = {}
    for name, typed in item.items():
        if not fetch_all:
            if name not in row_mapper:
                continue
            if row_mapper[name] not in typed:
                raise ValueError(f"{name}: row_mapper says {row_mapper[name]!r}, "
                                 f"but it is stored as {next(iter(typed), None)!r}")
        value = from_dynamo_number(DESERIALIZER.deserialize(typed))
        if decode_json and isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            try:
                value = json.loads(value)
            except ValueError:
                logger.debug("dynamo_to_dict: %s looks like a JSON object but is not one; kept as text", name)
        result[name] = value
    return result


def exact_item(item: Mapping[str, Any]) -> Dict[str, Any]:
    """A DynamoDB item deserialized exactly (numbers stay Decimal, strings stay strings): fit to be sent back as a
    key, which :func:`row_from_dynamo` is not when it decodes JSON or rounds long decimals."""
    return {k: DESERIALIZER.deserialize(v) for k, v in item.items()}



def _number_size(text: str) -> int:
    """AWS's size of a number: a byte per two significant digits (leading and trailing zeros trimmed), one byte
    more, and one more for a negative number."""
    sign, digits, _ = Decimal(text).as_tuple()  # not normalize(): it rounds to 28 digits, DynamoDB keeps 38
    significant = "".join(map(str, digits)).strip("0") or "0"
    return (len(significant) + 1) // 2 + 1 + sign


def _binary_size(value: Any, base64_text: bool) -> int:
    if isinstance(value, str):
        # On the wire (what a server reads) binary is base64 text; a client given text sends its UTF-8 bytes.
        return len(base64.b64decode(value)) if base64_text else len(value.encode("utf-8"))
    return len(bytes(value))


def value_size(typed: TypedValue, *, base64_binary: bool = False) -> int:
    """Bytes one value in DynamoDB's typed syntax counts for in an item's size, by AWS's rules: strings their
    UTF-8 length, binary its length, numbers a byte per two significant digits plus one, booleans and nulls one
    byte, sets the sum of their members, and lists and maps 3 bytes plus a byte per element (and its name).

    :param typed: ``{'S': 'abc'}``, ``{'M': {...}}``, ...
    :param base64_binary: Binary values given as text are base64 (a request as a server reads it), not raw text.
    :raises ValueError: An unknown type.
    """
    ((kind, value),) = typed.items()
    if kind == "S":
        return len(value.encode("utf-8"))
    if kind == "N":
        return _number_size(value)
    if kind == "B":
        return _binary_size(value, base64_binary)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(member.encode("utf-8")) for member in value)
    if kind == "NS":
        return sum(_number_size(member) for member in value)
    if kind == "BS":
        return sum(_binary_size(member, base64_binary) for member in value)
    if kind == "L":
        return 3 + sum(1 + value_size(element, base64_binary=base64_binary) for element in value)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(element, base64_binary=base64_binary)
                       for name, element in value.items())
    raise ValueError(f"{kind!r} is no DynamoDB type")


def item_size(item: Mapping[str, TypedValue], *, base64_binary: bool = False) -> int:
    """An item's size by AWS's rules, which DynamoDB holds to 400 KB: the UTF-8 length of every attribute name plus
    :func:`value_size` of every value.

    .. code-block:: python

        item_size({'task_id': {'S': 'abc'}, 'greenfield': {'N': '1000'}})  # 7 + 3 + 10 + 2 = 22
    """
    return sum(len(name.encode("utf-8")) + value_size(typed, base64_binary=base64_binary)
               for name, typed in item.items())
