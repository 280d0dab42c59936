"""DynamoDB expressions: the human condition strings sosw accepts, and the expressions of one request built with one
set of placeholders (every attribute name escaped, so reserved words are fine).

Conditions are ``boto3.dynamodb.conditions`` objects; :func:`parse_condition` turns text such as
``'attribute_not_exists completed_at AND greenfield <= 42'`` into one, and :class:`Expressions` renders them.
"""

import re
from decimal import Decimal
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

from boto3.dynamodb.conditions import Attr, ConditionBase, ConditionExpressionBuilder, Key

from sosw.components._dynamo_marshal import RowMapper, serialize_values
from sosw.exceptions import InvalidDynamoInput

#: A condition as callers may give it: text, a boto3 condition object, or nothing.
Condition = Union[str, ConditionBase, None]
#: Converts the value of attribute ``name`` to its stored type: ``(name, value) -> value``.
Typer = Callable[[str, Any], Any]

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

#: Comparison operators of key conditions and condition strings -> the boto3 condition method.
COMPARISONS = {
    "=": "eq", "==": "eq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "begins_with": "begins_with",
}
_BETWEEN_BOUNDS = ("st_between_", "en_between_")


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


def _and(left: Optional[ConditionBase], right: ConditionBase) -> ConditionBase:
    return right if left is None else left & right


def _clause(groups: Dict[str, Any], mapper: RowMapper, field: str) -> ConditionBase:
    """The condition of one clause matched by ``_CLAUSE``."""
    if groups["fn"]:
        attr = Attr(groups["fn_attr"])
        return attr.exists() if groups["fn"].lower() == "attribute_exists" else attr.not_exists()
    if groups["b_attr"]:
        name = groups["b_attr"]
        return Attr(name).between(_literal(groups["low"], mapper.get(name), field),
                                  _literal(groups["high"], mapper.get(name), field))
    if groups["bw_attr"]:
        return Attr(groups["bw_attr"]).begins_with(_literal(groups["prefix"], "S"))
    name, op = groups["attr"], groups["op"]
    value = _literal(groups["val"], mapper.get(name), field)
    if op in ("<>", "!="):
        return Attr(name).ne(value)
    condition: ConditionBase = getattr(Attr(name), COMPARISONS[op])(value)
    return condition


def parse_condition(expression: Condition, row_mapper: Optional[Dict[str, str]] = None,
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
        result = _and(result, _clause(match.groupdict(), mapper, field))
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
    """Human text of a condition object (boto3 prints only its class), for error messages.

    .. code-block:: python

        describe_condition(Attr('greenfield').lte(42))  # 'greenfield <= 42'

    :param condition: A ``boto3.dynamodb.conditions`` object; anything else is returned as ``str()``.
    """
    if not isinstance(condition, ConditionBase):
        return str(condition)
    expression = condition.get_expression()
    values = [describe_condition(v) if isinstance(v, ConditionBase)
              else getattr(v, "name", str(v) if isinstance(v, Decimal) else repr(v))
              for v in expression["values"]]
    return expression["format"].format(*values, operator=expression["operator"])


class Expressions:
    """Builds the expression strings of one request with one set of placeholders, so none collide."""

    def __init__(self) -> None:
        self._builder = ConditionExpressionBuilder()
        self.names: Dict[str, str] = {}
        self.values: Dict[str, Any] = {}

    def condition(self, condition: ConditionBase, is_key_condition: bool = False) -> str:
        """The expression of ``condition``; its placeholders are kept for :meth:`apply`."""
        built = self._builder.build_expression(condition, is_key_condition=is_key_condition)
        self.names.update(built.attribute_name_placeholders)
        self.values.update(built.attribute_value_placeholders)
        return built.condition_expression

    def name(self, attribute: str) -> str:
        """A placeholder for an attribute name."""
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        """A placeholder for a value, already typed."""
        placeholder = f":u{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def apply(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """``request`` with the placeholders used so far defined in it."""
        if self.names:
            request["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            request["ExpressionAttributeValues"] = serialize_values(self.values)
        return request


def key_condition(keys: Mapping[str, Any], comparisons: Optional[Mapping[str, str]],
                  type_key: Typer) -> ConditionBase:
    """The key condition of a query: one comparison per key (``=`` unless ``comparisons`` says otherwise), and a
    ``between`` for each ``st_between_<key>`` / ``en_between_<key>`` pair.

    :raises ~sosw.exceptions.InvalidDynamoInput: An unknown comparison (field ``comparisons``).
    :raises ValueError: No key, or half a between (field ``keys``).
    """
    comparisons = comparisons or {}
    condition: Optional[ConditionBase] = None
    between: Dict[str, Dict[str, Any]] = {}
    for name, value in keys.items():
        bound = next((b for b in _BETWEEN_BOUNDS if name.startswith(b)), None)
        if bound:
            between.setdefault(name[len(bound):], {})[bound] = value
            continue
        op = comparisons.get(name, "=")
        if op not in COMPARISONS:
            raise InvalidDynamoInput(f"unsupported {op!r} for {name!r}; use one of {sorted(COMPARISONS)}",
                                     field="comparisons")
        condition = _and(condition, getattr(Key(name), COMPARISONS[op])(type_key(name, value)))
    for name, bounds in between.items():
        if len(bounds) != 2:
            raise ValueError(f"keys: st_between_{name} and en_between_{name} must be given together")
        low, high = (type_key(name, bounds[b]) for b in _BETWEEN_BOUNDS)
        condition = _and(condition, Key(name).between(low, high))
    if condition is None:
        raise ValueError("keys: at least the hash key is required")
    return condition


def equality_filter(attrs: Optional[Mapping[str, Any]], type_value: Typer) -> Optional[ConditionBase]:
    """A filter keeping items whose attributes equal ``attrs``; None for no attributes."""
    condition: Optional[ConditionBase] = None
    for name, value in (attrs or {}).items():
        condition = _and(condition, Attr(name).eq(type_value(name, value)))
    return condition


def update_expression(expressions: Expressions, attributes_to_update: Optional[Mapping[str, Any]],
                      attributes_to_increment: Optional[Mapping[str, Any]],
                      attributes_to_remove: Optional[Sequence[str]], type_value: Typer) -> str:
    """The ``UpdateExpression`` that sets, adds to and removes the given attributes, its placeholders kept in
    ``expressions``.

    :raises ValueError: An increment that is no number (field ``attributes_to_increment``), or nothing to do (field
        ``attributes_to_update``).
    """
    sets = [f"{expressions.name(name)} = {expressions.value(type_value(name, value))}"
            for name, value in (attributes_to_update or {}).items()]
    adds = []
    for name, value in (attributes_to_increment or {}).items():
        try:
            amount = Decimal(str(value))
        except ArithmeticError:
            raise ValueError(f"attributes_to_increment: {name} must be a number, got {value!r}") from None
        adds.append(f"{expressions.name(name)} {expressions.value(amount)}")
    removes = [expressions.name(name) for name in (attributes_to_remove or [])]
    clauses = [f"{verb} {', '.join(parts)}" for verb, parts in (("SET", sets), ("ADD", adds), ("REMOVE", removes))
               if parts]
    if not clauses:
        raise ValueError("attributes_to_update: nothing to update, increment or remove")
    return " ".join(clauses)
