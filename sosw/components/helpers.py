"""
Static helpers usable in any Lambda. They depend on nothing but the standard library and sosw's own errors.

Bad arguments raise :class:`~sosw.exceptions.InvalidArgument` (a ``ValueError``) or
:class:`~sosw.exceptions.InvalidArgumentType` (also a ``TypeError``), which name the argument at fault. They are
instances of the exception types 0.7.47 raised for the same arguments too.

.. code-block:: python

    from sosw.components.helpers import recursive_update, chunks

    recursive_update({'a': {'b': 1, 'l': [1]}}, {'a': {'c': 2, 'l': [2]}})
    # {'a': {'b': 1, 'l': [1, 2], 'c': 2}}
    list(chunks([1, 2, 3, 4, 5], 2))
    # [[1, 2], [3, 4], [5]]
"""

import datetime
import hashlib
import json
import re
import uuid
from collections import abc
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from sosw.components.exceptions import EventNotFromSourceException
from sosw.exceptions import InvalidArgument, InvalidArgumentType

__all__ = [
    "validate_account_to_dashed",
    "validate_account_to_int",
    "validate_list_of_numbers_from_csv",
    "camel_case_to_underscore",
    "chunks",
    "validate_uuid4",
    "rstrip_all",
    "get_one_or_none_from_dict",
    "get_one_from_dict",
    "get_list_of_multiple_or_one_or_empty_from_dict",
    "validate_date_list_from_event_or_days_back",
    "validate_date_from_something",
    "validate_datetime_from_something",
    "validate_string_matches_datetime_format",
    "is_valid_date",
    "recursive_matches_soft",
    "recursive_matches_strict",
    "recursive_matches_extract",
    "recursive_exists_soft",
    "recursive_exists_strict",
    "dunder_to_dict",
    "nested_dict_from_keys",
    "convert_string_to_words",
    "construct_dates_from_event",
    "validate_list_of_words_from_csv_or_list",
    "first_or_none",
    "recursive_update",
    "trim_arn_to_name",
    "trim_arn_to_account",
    "make_hash",
    "to_bool",
    "small_int_from_string",
    "is_event_from_sns",
    "is_event_from_sqs",
    "get_message_dict_from_sns_event",
    "get_message_dict_from_sqs_event",
    "unwrap_event_recursively",
]

_CAMEL_1 = re.compile(r"(.)([A-Z][a-z]+)")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_ACCOUNT_DIGITS = re.compile(r"\d{10}")
_ACCOUNT_DASHED = re.compile(r"\d{3}-\d{3}-\d{4}")
_AWS_ACCOUNT = re.compile(r"\d{12}")
_INTEGER = re.compile(r"-?\d+")
_EPOCH_TEXT = re.compile(r"\d+(\.\d*)?|\.\d+")
_WORD_SEPARATORS = re.compile(r"[\s,]+")

_DATE_FORMAT = "%Y-%m-%d"
_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_STRING_FORMATS = (_DATE_FORMAT, _DATETIME_FORMAT, "%Y-%m-%d %H:%M:%S.%f")
# Epoch seconds stay below 1e10 until the year 2286, epoch milliseconds pass it in April 1970.
_EPOCH_MILLISECONDS_FROM = 10_000_000_000

_TRUE_STRINGS = frozenset({"true", "yes", "y", "1", "on"})
_FALSE_STRINGS = frozenset({"false", "no", "n", "0", "off", ""})

# Default of lookups where an absent key must not equal any value, not even None.
_MISSING = object()
_EXCLUDE_KWARGS = ("exclude_key", "exclude_val")
# 0.7.47 stops unwrapping there, a guard against a message that keeps looking wrapped.
_MAX_UNWRAP_DEPTH = 10
_MD5_DIGITS = 39

_SEQUENCES = (list, tuple)
_COLLECTIONS = (list, tuple, set, frozenset)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _wrong_type(field: str, expected: str, value: Any) -> InvalidArgumentType:
    return InvalidArgumentType(f"expected {expected}, got {_type_name(value)}", field, value)


def validate_account_to_dashed(account: Union[str, int]) -> str:
    """Validate that ``account`` is an AdWords account (10 digits) and return it in the dashed format.

    :param account: ``'1234567890'``, ``'123-456-7890'`` or ``1234567890``. Surrounding spaces are ignored.
    :return: The account as ``'123-456-7890'``.
    :raises InvalidArgumentType: If ``account`` is neither a string nor an integer.
    :raises InvalidArgument: If ``account`` is not ten digits, plain or dashed as ``XXX-XXX-XXXX``.

    .. code-block:: python

        validate_account_to_dashed(1234567890)  # '123-456-7890'
        validate_account_to_dashed('123-456-7890')  # '123-456-7890'
    """
    if isinstance(account, bool) or not isinstance(account, (str, int)):
        raise _wrong_type("account", "a string or an integer", account)
    text = str(account).strip()
    if _ACCOUNT_DASHED.fullmatch(text):
        return text
    if _ACCOUNT_DIGITS.fullmatch(text):
        return f"{text[:3]}-{text[3:6]}-{text[6:]}"
    raise InvalidArgument(f"expected 10 digits as 1234567890 or 123-456-7890, got {account!r}", "account", account)


def validate_account_to_int(account: Union[str, int]) -> int:
    """Validate that ``account`` is an AdWords account (10 digits) and return it as an integer.

    :param account: ``'1234567890'``, ``'123-456-7890'`` or ``1234567890``. Surrounding spaces are ignored.
    :return: The account ID as an integer.
    :raises InvalidArgumentType: If ``account`` is neither a string nor an integer.
    :raises InvalidArgument: If ``account`` is not ten digits, plain or dashed as ``XXX-XXX-XXXX``.

    .. code-block:: python

        validate_account_to_int('123-456-7890')  # 1234567890
    """
    return int(validate_account_to_dashed(account).replace("-", ""))


def validate_list_of_numbers_from_csv(data: Union[str, int, float, Iterable]) -> List[Union[int, float]]:
    """Convert comma separated integers to a sorted list of unique integers. Values that are not integers are skipped.

    :param data: A CSV string, or an iterable of numbers and CSV strings. A single number is returned in a list as it
        is; anything else gives an empty list.
    :return: Sorted unique integers.

    .. code-block:: python

        validate_list_of_numbers_from_csv('3, 1,x, 3,2.5')  # [1, 3]
        validate_list_of_numbers_from_csv(['5', 4, '1,2'])  # [1, 2, 4, 5]
        validate_list_of_numbers_from_csv(123)  # [123]
    """
    if isinstance(data, (int, float)):
        return [data]
    if isinstance(data, str):
        data = [data]
    elif not isinstance(data, Iterable):
        return []

    numbers = set()
    for item in data:
        if isinstance(item, (int, float)):
            numbers.add(int(item))
        elif isinstance(item, str):
            numbers.update(int(part) for part in (p.strip() for p in item.split(",")) if _INTEGER.fullmatch(part))
    return sorted(numbers)


def camel_case_to_underscore(name: Any) -> str:
    """Convert ``CamelCase`` (or anything whose ``str()`` is) to ``camel_case``.

    :param name: CamelCase string, or something whose ``str()`` is one.
    :return: The underscore_formatted value.

    .. code-block:: python

        camel_case_to_underscore('DynamoDb')  # 'dynamo_db'
    """
    name = str(name)
    return _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", name)).replace("__", "_").lower()


def chunks(l: Iterable, n: int) -> Iterator:  # noqa: E741 - the parameter names of 0.7.47
    """Yield successive chunks of at most ``n`` elements of ``l``.

    A sequence (list, tuple, string) is cut in slices of its own type; any other iterable in lists.

    :param l: Any iterable.
    :param n: Positive chunk size.
    :raises InvalidArgumentType: If ``n`` is not an integer.
    :raises InvalidArgument: If ``n`` is less than 1.

    .. code-block:: python

        list(chunks([1, 2, 3, 4, 5], 2))  # [[1, 2], [3, 4], [5]]
        list(chunks('abcde', 2))  # ['ab', 'cd', 'e']
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise _wrong_type("n", "a positive integer", n)
    if n < 1:
        raise InvalidArgument(f"must be a positive integer, got {n!r}", "n", n)
    if isinstance(l, abc.Sequence):
        for start in range(0, len(l), n):
            yield l[start : start + n]
        return
    batch: List = []
    for item in l:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def validate_uuid4(uuid_string: str) -> str:
    """Validate that ``uuid_string`` is a UUID of version 4 and return it in the canonical form.

    The version and the variant bits are checked on the value as given: ``uuid.UUID(..., version=4)`` alone would
    silently overwrite them and accept any 32 hexadecimal digits.

    :param uuid_string: The UUID, with or without dashes, in any case.
    :return: The UUID as lowercase ``xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx``.
    :raises InvalidArgumentType: If ``uuid_string`` is not a string.
    :raises InvalidArgument: If ``uuid_string`` is not a UUID, or not of version 4.

    .. code-block:: python

        validate_uuid4('3F2504E0-4F89-41D3-9A0C-0305E82C3301')  # '3f2504e0-4f89-41d3-9a0c-0305e82c3301'
        validate_uuid4('3f2504e0-4f89-11d3-9a0c-0305e82c3301')  # InvalidArgument: version 1
    """
    if not isinstance(uuid_string, str):
        raise _wrong_type("uuid_string", "a string", uuid_string)
    try:
        value = uuid.UUID(uuid_string)
    except ValueError:
        raise InvalidArgument(f"not a UUID: {uuid_string!r}", "uuid_string", uuid_string) from None
    if value.version != 4 or value.variant != uuid.RFC_4122:
        raise InvalidArgument(f"not a version 4 UUID: {uuid_string!r}", "uuid_string", uuid_string)
    return str(value)


def rstrip_all(input: str, patterns: Union[str, Iterable[str]]) -> str:
    """Strip every pattern from the right of ``input``, repeatedly. Order and spaces do not matter.

    :param input: String to modify.
    :param patterns: A pattern or a list, set or tuple of patterns to remove. Their surrounding spaces are ignored, and
        so are empty patterns.
    :return: ``input`` without any of the ``patterns`` or spaces at its end.
    :raises InvalidArgumentType: If ``input`` or a pattern is not a string.

    .. code-block:: python

        rstrip_all('name_b _a_b ', ['_a', '_b'])  # 'name'
    """
    if not isinstance(input, str):
        raise _wrong_type("input", "a string", input)
    if isinstance(patterns, str):
        patterns = [patterns]
    elif not isinstance(patterns, (*_COLLECTIONS,)):
        raise _wrong_type("patterns", "a string or a list of strings", patterns)
    suffixes = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise _wrong_type("patterns", "strings", pattern)
        if pattern.strip():
            suffixes.append(pattern.strip())

    result = input.rstrip()
    stripped = True
    while stripped:
        stripped = False
        for suffix in suffixes:
            if result.endswith(suffix):
                result = result[: -len(suffix)].rstrip()
                stripped = True
    return result


def _convert(value: Any, vtype: Optional[Callable], name: str) -> Any:
    if vtype is None:
        return value
    if not callable(vtype):
        raise _wrong_type("vtype", "a callable", vtype)
    try:
        return vtype(value)
    except TypeError as err:
        message = f"cannot convert {value!r} with {getattr(vtype, '__name__', vtype)}: {err}"
        raise InvalidArgumentType(message, name, value) from err
    except ValueError as err:
        message = f"cannot convert {value!r} with {getattr(vtype, '__name__', vtype)}: {err}"
        raise InvalidArgument(message, name, value) from err


def _check_input_and_name(input: Any, name: Any) -> None:
    if not isinstance(input, Mapping):
        raise _wrong_type("input", "a dictionary", input)
    if not isinstance(name, str):
        raise _wrong_type("name", "a string", name)


def get_one_or_none_from_dict(input: Mapping, name: str, vtype: Optional[Callable] = None) -> Any:
    """Extract the value of ``name`` from ``input``, else of its plural ``name + 's'``; ``None`` if neither is set.

    A list, tuple or set found there must have at most one element, which is returned.

    :param input: Input dictionary, a Lambda event for example.
    :param name: Name of the attribute, in singular form.
    :param vtype: Callable to convert the result with, for example ``str``, ``int`` or ``float``.
    :return: The (converted) value, or ``None``.
    :raises InvalidArgument: In every case something is wrong: ``input`` not a dictionary, several values, failed
        conversion. A wrong type is also a ``TypeError``.

    .. code-block:: python

        get_one_or_none_from_dict({'ids': ['42']}, 'id', int)  # 42
        get_one_or_none_from_dict({}, 'id')  # None
    """
    _check_input_and_name(input, name)
    value = input.get(name)
    if value is None:
        value = input.get(f"{name}s")
    if isinstance(value, _COLLECTIONS):
        if len(value) > 1:
            raise InvalidArgument(f"expected at most one value, got {len(value)}: {value!r}", name, value)
        value = next(iter(value), None)
    if value is None:
        return None
    return _convert(value, vtype, name)


def get_one_from_dict(input: Mapping, name: str, vtype: Optional[Callable] = None) -> Any:
    """Extract the value of ``name`` from ``input``, else of its plural ``name + 's'``; it must be there.

    A list, tuple or set found there must have exactly one element, which is returned.

    :param input: Input dictionary, a Lambda event for example.
    :param name: Name of the attribute, in singular form.
    :param vtype: Callable to convert the result with, for example ``str``, ``int`` or ``float``.
    :return: The (converted) value.
    :raises InvalidArgument: In every case something is wrong: ``input`` not a dictionary, no value, several values,
        failed conversion. A wrong type is also a ``TypeError``.

    .. code-block:: python

        get_one_from_dict({'id': 42}, 'id', str)  # '42'
        get_one_from_dict({'ids': []}, 'id')  # InvalidArgument (a ValueError)
    """
    value = get_one_or_none_from_dict(input, name, vtype)
    if value is None:
        raise InvalidArgument(f"input has no value for {name!r} nor {name + 's'!r}", name)
    return value


def get_list_of_multiple_or_one_or_empty_from_dict(input: Mapping, name: str, vtype: Optional[Callable] = None) -> List:
    """Extract the values of ``name`` from ``input`` as a list; the singular form of ``name`` is tried too.

    :param input: Input dictionary, a Lambda event for example.
    :param name: Name of the attribute, in plural form. The singular is ``name`` without its trailing ``s``.
    :param vtype: Callable to convert each element with, for example ``str``, ``int`` or ``float``.
    :return: A list of the (converted) values; empty if none is set.
    :raises InvalidArgument: In every case something is wrong: ``input`` not a dictionary, failed conversion. A wrong
        type is also a ``TypeError``.

    .. code-block:: python

        get_list_of_multiple_or_one_or_empty_from_dict({'ids': ['1', '2']}, 'ids', int)  # [1, 2]
        get_list_of_multiple_or_one_or_empty_from_dict({'id': 3}, 'ids')  # [3]
        get_list_of_multiple_or_one_or_empty_from_dict({}, 'ids')  # []
    """
    _check_input_and_name(input, name)
    value = input.get(name)
    if value is None and name.endswith("s"):
        value = input.get(name[:-1])
    if value is None:
        return []
    values = list(value) if isinstance(value, _COLLECTIONS) else [value]
    return [_convert(item, vtype, name) for item in values]


def _days(value: Any, name: str) -> datetime.timedelta:
    """A number of days; JSON events may carry it as a string. Negative days are in the future, as in 0.7.47."""
    if isinstance(value, str):
        try:
            value = float(value) if "." in value else int(value)
        except ValueError:
            raise InvalidArgumentType(f"expected a number of days, got {value!r}", name, value) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong_type(name, "a number of days", value)
    return datetime.timedelta(days=value)


def _date_field(value: Any, name: str) -> datetime.date:
    """:func:`validate_date_from_something` for a named field: the error names it and keeps its type."""
    try:
        return validate_date_from_something(value)
    except InvalidArgument as err:
        raise type(err)(err.message, name, value) from err


def validate_date_list_from_event_or_days_back(
    input: Mapping, days_back: Union[int, float] = 0, key_name: str = "date_list"
) -> List[datetime.date]:
    """Extract the list of dates ``input[key_name]``, else make a list of the one date ``days_back`` days ago.

    The dates are a list or a comma separated string of ``YYYY-MM-DD``; elements of the list may also be anything
    :func:`validate_date_from_something` accepts. A missing, ``None`` or empty value means no dates were given.

    :param input: This is supposed to be your whole Lambda event.
    :param days_back: Number of days back from today when ``input`` has no dates: 1 is yesterday. Default: today.
    :param key_name: Custom name of the key to extract from ``input``.
    :return: The dates, in the given order.
    :raises InvalidArgumentType: If ``input`` is not a dictionary, the value is neither a string nor a list, or
        ``days_back`` is not a number.
    :raises InvalidArgument: If a date is not valid.

    .. code-block:: python

        validate_date_list_from_event_or_days_back({'date_list': '2018-01-01, 2018-02-01'})
        # [datetime.date(2018, 1, 1), datetime.date(2018, 2, 1)]
        validate_date_list_from_event_or_days_back({}, days_back=1)  # [yesterday]
    """
    if not isinstance(input, Mapping):
        raise _wrong_type("input", "a dictionary", input)
    value = input.get(key_name)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    elif value is not None and not isinstance(value, _COLLECTIONS):
        raise _wrong_type(key_name, "a list or a comma separated string", value)
    if not value:
        return [datetime.date.today() - _days(days_back, "days_back")]
    return [_date_field(item, key_name) for item in value]


def _from_epoch(seconds_or_milliseconds: Union[int, float]) -> datetime.datetime:
    value = seconds_or_milliseconds
    seconds = value / 1000 if abs(value) >= _EPOCH_MILLISECONDS_FROM else value
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).replace(tzinfo=None)


def validate_datetime_from_something(d: Any) -> datetime.datetime:
    """Convert ``d`` to ``datetime.datetime``.

    Numbers, and strings of digits, are Unix epoch seconds, or milliseconds when 1e10 or more; they are converted to
    naive UTC time.

    :param d: A ``datetime.datetime`` (returned as is), a ``datetime.date`` (midnight), an ``int`` or ``float``
        epoch in seconds or milliseconds, or a string: ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS``,
        ``YYYY-MM-DD HH:MM:SS.ffffff`` or an epoch such as ``'1000'`` or ``'1000.1'``. As in 0.7.47, anything after
        the seconds of a longer string is ignored (``'2019-01-01 10:11:12+00:00'``).
    :return: The datetime.
    :raises InvalidArgumentType: If ``d`` is of another type.
    :raises InvalidArgument: If a string is in none of these formats.
    :raises OverflowError: If a number is out of the range of dates (or ``OSError``, ``ValueError``, as the platform
        tells).

    .. code-block:: python

        validate_datetime_from_something('2019-01-01 10:11:12')  # datetime.datetime(2019, 1, 1, 10, 11, 12)
        validate_datetime_from_something(1546300800000)  # datetime.datetime(2019, 1, 1, 0, 0)
        validate_datetime_from_something('1000')  # datetime.datetime(1970, 1, 1, 0, 16, 40)
    """
    if isinstance(d, datetime.datetime):
        return d
    if isinstance(d, datetime.date):
        return datetime.datetime.combine(d, datetime.time())
    if isinstance(d, (int, float)):
        return _from_epoch(d)
    if not isinstance(d, str):
        raise _wrong_type("d", "a date, a datetime, a number or a string", d)
    text = d.strip()
    if _EPOCH_TEXT.fullmatch(text):
        return _from_epoch(float(text))
    for date_format in _STRING_FORMATS:
        try:
            return datetime.datetime.strptime(text, date_format)
        except ValueError:
            continue
    try:
        return datetime.datetime.strptime(text[:19], _DATETIME_FORMAT)
    except ValueError:
        pass
    raise InvalidArgument(f"expected 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS[.ffffff]' or an epoch, got {d!r}", "d", d)


def validate_date_from_something(d: Any) -> datetime.date:
    """Convert ``d`` to ``datetime.date``; the time of day, if any, is dropped.

    :param d: Anything :func:`validate_datetime_from_something` accepts.
    :return: The date.
    :raises InvalidArgumentType: If ``d`` is of another type.
    :raises InvalidArgument: If a string is not a date.

    .. code-block:: python

        validate_date_from_something('2019-01-01 10:11:12.123456')  # datetime.date(2019, 1, 1)
        validate_date_from_something(1546300800)  # datetime.date(2019, 1, 1)
    """
    if isinstance(d, datetime.date) and not isinstance(d, datetime.datetime):
        return d
    return validate_datetime_from_something(d).date()


def validate_string_matches_datetime_format(date_str: str, date_format: str, field_name: str = "date") -> None:
    """Validate that ``date_str`` is in ``date_format``.

    :param date_str: A date or time or both, for example ``'2018/09/16'``.
    :param date_format: A format for ``datetime.strptime``, for example ``'%Y/%m/%d'``.
    :param field_name: Name of the field, for the error message.
    :raises InvalidArgumentType: If ``date_str`` or ``date_format`` is not a string.
    :raises InvalidArgument: If either is empty, or ``date_str`` does not match ``date_format``.

    .. code-block:: python

        validate_string_matches_datetime_format('2018/09/16', '%Y/%m/%d')  # passes
        validate_string_matches_datetime_format('2018-09-16', '%Y/%m/%d', 'st_date')  # InvalidArgument naming st_date
    """
    for value, name in ((date_str, field_name), (date_format, "date_format")):
        if not isinstance(value, str):
            raise _wrong_type(name, "a string", value)
        if not value:
            raise InvalidArgument("must not be empty", name, value)
    try:
        datetime.datetime.strptime(date_str, date_format)
    except ValueError:
        raise InvalidArgument(f"{date_str!r} does not match the format {date_format!r}", field_name, date_str) from None


def is_valid_date(date_str: str, date_formats: Union[str, Iterable[str]]) -> bool:
    """Tell whether ``date_str`` is in at least one of ``date_formats``.

    :param date_str: A date or time or both, for example ``'2018/09/16'``. Anything but a string is not valid.
    :param date_formats: A format for ``datetime.strptime``, or a list of them, for example ``['%Y/%m/%d']``.
        Elements that are not strings match nothing.
    :return: True if ``date_str`` matches any of the formats, False otherwise.
    :raises InvalidArgumentType: If ``date_formats`` is neither a string nor an iterable.

    .. code-block:: python

        is_valid_date('2018/09/16', ['%Y-%m-%d', '%Y/%m/%d'])  # True
        is_valid_date('16.09.2018', ['%Y-%m-%d'])  # False
    """
    if isinstance(date_formats, str):
        date_formats = [date_formats]
    elif not isinstance(date_formats, Iterable):
        raise _wrong_type("date_formats", "a string or a list of strings", date_formats)
    formats = [date_format for date_format in date_formats if isinstance(date_format, str) and date_format]
    if not isinstance(date_str, str) or not date_str:
        return False
    for date_format in formats:
        try:
            datetime.datetime.strptime(date_str, date_format)
        except ValueError:
            continue
        return True
    return False


def _split_path(key: Any, separator: Optional[str]) -> List[str]:
    if separator is None:
        separator = "."
    if not isinstance(separator, str):
        raise _wrong_type("separator", "a string", separator)
    if not separator:
        raise InvalidArgument("must not be empty", "separator", separator)
    if not isinstance(key, str):
        raise _wrong_type("key", "a string", key)
    return key.split(separator)


def _exclusion(kwargs: Mapping, allowed: Tuple[str, ...], function: str) -> Callable[[Mapping], bool]:
    """Check the keyword arguments of a ``recursive_matches_*`` helper; return the test of an excluded element."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise InvalidArgumentType(f"{function}() got unexpected keyword arguments: {', '.join(unknown)}", unknown[0])
    given = [name for name in _EXCLUDE_KWARGS if name in kwargs]
    if len(given) == 1:
        missing = next(name for name in _EXCLUDE_KWARGS if name not in kwargs)
        raise InvalidArgument(f"{function}(): exclude_key and exclude_val go together; {given[0]} without it", missing)
    exclude_key, exclude_val = kwargs.get("exclude_key"), kwargs.get("exclude_val")
    if not exclude_key:
        return lambda element: False
    return lambda element: element.get(exclude_key, _MISSING) == exclude_val


def _walk(
    src: Any, path: List[str], strict: bool, key: str, excluded: Callable[[Mapping], bool]
) -> Iterator[Tuple[Mapping, Any]]:
    """Yield ``(parent, value)`` for each element at ``path`` in ``src``, descending into every list and tuple, lazily.

    At the last level, a dictionary that ``excluded`` tells is skipped before its key is looked up. With ``strict``, an
    inaccessible path raises instead of being skipped.
    """
    if isinstance(src, _SEQUENCES):
        for element in src:
            yield from _walk(element, path, strict, key, excluded)
        return
    if not isinstance(src, Mapping):
        if strict:
            message = f"{key!r} is inaccessible: {path[0]!r} is looked up in a {_type_name(src)}"
            raise InvalidArgumentType(message, "key", key)
        return
    if len(path) == 1 and excluded(src):
        return
    head = path[0]
    if head not in src:
        if strict:
            raise KeyError(f"key: {key!r} is inaccessible: no {head!r}")
        return
    if len(path) == 1:
        yield src, src[head]
    else:
        yield from _walk(src[head], path[1:], strict, key, excluded)


def _check_src(src: Any) -> None:
    if not isinstance(src, (Mapping, *_SEQUENCES)):
        raise _wrong_type("src", "a dictionary or a list", src)


def recursive_matches_soft(src: Union[Mapping, Sequence], key: str, val: Any, **kwargs: Any) -> bool:
    """Tell whether any element at the dot notation path ``key`` in ``src`` equals ``val``.

    Every element of a list or tuple met on the path is searched. An inaccessible path does not match. The value at
    the end of the path is compared as a whole, even if it is a list.

    To find duplicates of an element rather than the element itself, exclude it: the elements at the end of the
    path whose dictionary also has ``exclude_key`` equal to ``exclude_val`` are skipped.

    See also :func:`recursive_exists_soft`.

    :param src: Input dictionary (or list). Can contain nested dictionaries and lists.
    :param key: Path to search, with dot notation.
    :param val: Value to match in the elements at the path.
    :param kwargs: ``separator`` (str): custom path separator, default ``'.'``; ``exclude_key`` (str): key to check
        in the dictionary of the last level to exclude it; ``exclude_val``: value of ``exclude_key`` that excludes it.
    :return: True if any element matches.
    :raises InvalidArgument: If only one of ``exclude_key`` and ``exclude_val`` is given (also an
        ``AttributeError``), or the separator is empty.
    :raises InvalidArgumentType: If ``key`` is not a string, or on unknown ``kwargs``.

    .. code-block:: python

        src = {'a': [{'id': 1, 'b': 'x'}, {'id': 2, 'b': 'y'}, {'id': 3, 'b': 'x'}]}
        recursive_matches_soft(src, 'a.b', 'x')  # True
        recursive_matches_soft(src, 'a.c', 'x')  # False
        recursive_matches_soft(src, 'a.b', 'x', exclude_key='id', exclude_val=1)  # True: id 3 is a duplicate
        recursive_matches_soft(src, 'a.b', 'y', exclude_key='id', exclude_val=2)  # False
    """
    excluded = _exclusion(kwargs, ("separator", *_EXCLUDE_KWARGS), "recursive_matches_soft")
    path = _split_path(key, kwargs.get("separator"))
    return any(value == val for _, value in _walk(src, path, False, key, excluded))


def recursive_matches_strict(src: Union[Mapping, Sequence], key: str, val: Any, **kwargs: Any) -> bool:
    """Tell whether any element at the dot notation path ``key`` in ``src`` equals ``val``; the path must exist.

    Every element of a list or tuple met on the path is searched in order, and each must have the rest of the path
    until one matches. The value at the end of the path is compared as a whole, even if it is a list. Elements at the
    end of the path whose dictionary has ``exclude_key`` equal to ``exclude_val`` are skipped, the path need not
    exist in them.

    :param src: Input dictionary (or list). Can contain nested dictionaries and lists.
    :param key: Path to search, with dot notation.
    :param val: Value to match in the elements at the path.
    :param kwargs: ``separator`` (str): custom path separator, default ``'.'``; ``exclude_key`` and ``exclude_val`` as
        in :func:`recursive_matches_soft`.
    :return: True if any element matches.
    :raises KeyError: If a dictionary on the path lacks the next key.
    :raises InvalidArgumentType: If the path goes on through something that is neither a dictionary nor a list (also
        an ``AttributeError``), ``key`` is not a string, or on unknown ``kwargs``.
    :raises InvalidArgument: If only one of ``exclude_key`` and ``exclude_val`` is given, or the separator is empty.

    .. code-block:: python

        recursive_matches_strict({'a': [{'b': 1}, {'b': 2}]}, 'a.b', 2)  # True
        recursive_matches_strict({'a': [{'c': 1}, {'b': 1}]}, 'a.b', 1)  # KeyError: the first has no 'b'
    """
    excluded = _exclusion(kwargs, ("separator", *_EXCLUDE_KWARGS), "recursive_matches_strict")
    path = _split_path(key, kwargs.get("separator"))
    return any(value == val for _, value in _walk(src, path, True, key, excluded))


def recursive_matches_extract(
    src: Union[Mapping, Sequence], key: str, separator: Optional[str] = None, **kwargs: Any
) -> Any:
    """Return the first element at the dot notation path ``key`` in ``src``, or ``None``.

    Every element of a list or tuple met on the path is searched, in order. An inaccessible path gives ``None``.
    The elements at the end of the path whose dictionary has ``exclude_key`` equal to ``exclude_val`` are skipped.

    To just check that some element exists, see :func:`recursive_exists_soft` and :func:`recursive_exists_strict`.

    :param src: Input dictionary (or list). Can contain nested dictionaries and lists.
    :param key: Path to search, with dot notation.
    :param separator: Custom path separator. Default: ``'.'``.
    :param kwargs: ``exclude_key`` (str): key to check in the dictionary of the last level to exclude it;
        ``exclude_val``: value of ``exclude_key`` that excludes it.
    :return: The value extracted at the path, or ``None``.
    :raises InvalidArgumentType: If ``src``, ``key`` or ``separator`` is of the wrong type, or on unknown ``kwargs``.
    :raises InvalidArgument: If only one of ``exclude_key`` and ``exclude_val`` is given, or the separator is empty.

    .. code-block:: python

        src = {'a': [{'id': 1, 'b': 'x'}, {'id': 2, 'b': 'y'}]}
        recursive_matches_extract(src, 'a.b')  # 'x'
        recursive_matches_extract(src, 'a.b', exclude_key='id', exclude_val=1)  # 'y'
        recursive_matches_extract(src, 'a/b', separator='/')  # 'x'
        recursive_matches_extract(src, 'a.c')  # None
    """
    excluded = _exclusion(kwargs, _EXCLUDE_KWARGS, "recursive_matches_extract")
    _check_src(src)
    path = _split_path(key, separator)
    return next((value for _, value in _walk(src, path, False, key, excluded)), None)


def _nothing_excluded(element: Mapping) -> bool:
    return False


def recursive_exists_soft(src: Union[Mapping, Sequence], key: str, separator: Optional[str] = None) -> bool:
    """Tell whether the dot notation path ``key`` exists in ``src`` for at least one element of the lists on it.

    The value at the end of the path may be anything, ``None`` included.

    :param src: Input dictionary (or list). Can contain nested dictionaries and lists.
    :param key: Path to search, with dot notation.
    :param separator: Custom path separator. Default: ``'.'``.
    :return: True if the path exists somewhere.
    :raises InvalidArgumentType: If ``src`` or ``key`` is of the wrong type.
    :raises InvalidArgument: If the separator is empty.

    .. code-block:: python

        recursive_exists_soft({'a': [{'b': None}, {'c': 1}]}, 'a.b')  # True
        recursive_exists_soft({'a': [{'c': 1}]}, 'a.b')  # False
    """
    _check_src(src)
    path = _split_path(key, separator)
    return next(_walk(src, path, False, key, _nothing_excluded), None) is not None


def recursive_exists_strict(src: Union[Mapping, Sequence], key: str, separator: Optional[str] = None) -> bool:
    """Tell whether the dot notation path ``key`` exists in ``src`` for every element of every list on it.

    The value at the end of the path may be anything, ``None`` included. The path must lead to one value at least:
    an empty list on it gives False.

    :param src: Input dictionary (or list). Can contain nested dictionaries and lists.
    :param key: Path to search, with dot notation.
    :param separator: Custom path separator. Default: ``'.'``.
    :return: True if the path exists everywhere.
    :raises InvalidArgumentType: If ``src`` or ``key`` is of the wrong type.
    :raises InvalidArgument: If the separator is empty.

    .. code-block:: python

        recursive_exists_strict({'a': [{'b': None}, {'b': 1}]}, 'a.b')  # True
        recursive_exists_strict({'a': [{'b': None}, {'c': 1}]}, 'a.b')  # False
    """
    _check_src(src)
    path = _split_path(key, separator)
    try:
        found = list(_walk(src, path, True, key, _nothing_excluded))
    except (KeyError, InvalidArgumentType):
        return False
    return bool(found)


def nested_dict_from_keys(keys: Sequence, value: Optional[Any] = None) -> Any:
    """Construct a nested dictionary with each of ``keys`` embedded in the previous one; ``value`` is at the bottom.

    :param keys: A sequence of keys to embed. Without keys, the result is ``value`` itself.
    :param value: Value to set at the lowest level.
    :return: The nested dictionary.
    :raises InvalidArgumentType: If ``keys`` is not a sequence, or a key is not hashable (also an ``AssertionError``,
        as in 0.7.47).

    .. code-block:: python

        nested_dict_from_keys(['a', 'b', 'c'])  # {'a': {'b': {'c': None}}}
        nested_dict_from_keys(['a', 'b', 'c'], value=42)  # {'a': {'b': {'c': 42}}}
    """
    if not isinstance(keys, abc.Sequence):
        raise _wrong_type("keys", "a list or a tuple", keys)
    result: Any = value
    for key in reversed(keys):
        if not isinstance(key, abc.Hashable):
            raise _wrong_type("keys", "hashable keys", key)
        result = {key: result}
    return result


def dunder_to_dict(data: Mapping, separator: Optional[str] = None) -> Dict:
    """Convert a flat dictionary whose keys use dunder notation (``a__b``) for nesting to a nested dictionary.

    Keys are merged in order: ``b__c__e`` goes into the ``c`` made by an earlier ``b__c`` when it is a dictionary, and
    a later key wins over an earlier value, as :func:`recursive_update` does. The dictionary value of a dunder key is
    converted too. Keys that are not strings are kept as they are.

    :param data: The flat dictionary.
    :param separator: Custom separator of the levels in the keys. Default: ``'__'``.
    :return: A new nested dictionary.
    :raises InvalidArgumentType: If ``data`` is not a dictionary, or a key nests under an earlier value that is not
        a dictionary (``a`` and then ``a__b``).
    :raises InvalidArgument: If the separator is empty, or a key starts or ends with it (``__data``, ``data__``).

    .. code-block:: python

        dunder_to_dict({'a': 'v1', 'b__c': 'v2', 'b__d__e': 'v3'})
        # {'a': 'v1', 'b': {'c': 'v2', 'd': {'e': 'v3'}}}
        dunder_to_dict({'b__c': {'d': 1}, 'b__c__e': 2})  # {'b': {'c': {'d': 1, 'e': 2}}}
    """
    if not isinstance(data, Mapping):
        raise _wrong_type("data", "a dictionary", data)
    if separator is None:
        separator = "__"
    if not isinstance(separator, str):
        raise _wrong_type("separator", "a string", separator)
    if not separator:
        raise InvalidArgument("must not be empty", "separator", separator)

    result: Dict = {}
    for key, value in data.items():
        if not isinstance(key, str) or separator not in key:
            result[key] = value
            continue
        if key.startswith(separator) or key.endswith(separator):
            raise InvalidArgument(f"key {key!r} must use {separator!r} only between levels", "data", key)
        main_key, *nested_keys = key.split(separator)
        if isinstance(value, Mapping):
            value = dunder_to_dict(value, separator)
        current = result.get(main_key, {})
        if not isinstance(current, Mapping):
            raise InvalidArgumentType(f"key {key!r} nests under {main_key!r}, which already has a value", "data", key)
        result[main_key] = recursive_update(current, nested_dict_from_keys(nested_keys, value))
    return result


def convert_string_to_words(string: str) -> str:
    """Convert a string of words separated by spaces and/or commas to lower-case comma separated words.

    :param string: String to convert into words.
    :return: The words, lower-cased, in order, joined by commas without spaces.
    :raises InvalidArgumentType: If ``string`` is not a string.

    .. code-block:: python

        convert_string_to_words(' Foo bar,baz ,, QUX ')  # 'foo,bar,baz,qux'
    """
    if not isinstance(string, str):
        raise _wrong_type("string", "a string", string)
    return ",".join(word for word in _WORD_SEPARATORS.split(string.lower()) if word)


def _given(value: Any) -> bool:
    # JSON events built from templates carry absent fields as null or "".
    return value is not None and value != ""


def construct_dates_from_event(event: Mapping) -> Tuple[datetime.date, datetime.date]:
    """Extract the period from ``event``: its start and end dates.

    The end date is ``en_date``, today by default. The start date is either ``st_date``, or ``days_back`` days before
    the end date. Dates may be ``datetime.date``, ``datetime.datetime`` (the time of day is dropped) or
    ``'YYYY-MM-DD'`` strings; in fact anything :func:`validate_date_from_something` accepts. A field that is ``None``
    or ``''`` is absent.

    :param event: Lambda payload.
    :return: ``(start_date, end_date)`` as ``datetime.date``.
    :raises InvalidArgument: If the event has both or neither of ``st_date`` and ``days_back`` (also an
        ``AttributeError``, as in 0.7.47), a date is not valid, ``days_back`` is not a whole number, or ``st_date`` is
        after the end date (also an ``AssertionError``).
    :raises InvalidArgumentType: If ``event`` is not a dictionary, or a date is of a wrong type.

    .. code-block:: python

        construct_dates_from_event({'st_date': '2019-01-01', 'en_date': '2019-01-31'})
        # (datetime.date(2019, 1, 1), datetime.date(2019, 1, 31))
        construct_dates_from_event({'days_back': 7})  # (a week ago, today)
    """
    if not isinstance(event, Mapping):
        raise _wrong_type("event", "a dictionary", event)
    st_date, en_date, days_back = (event.get(name) for name in ("st_date", "en_date", "days_back"))
    if _given(st_date) == _given(days_back):
        raise InvalidArgument("expected either st_date or days_back, not both and not neither", "event", event)

    end = datetime.date.today() if en_date is None else _date_field(en_date, "en_date")
    if _given(days_back):
        return end - datetime.timedelta(days=_convert(days_back, int, "days_back")), end
    start = _date_field(st_date, "st_date")
    if start > end:
        raise InvalidArgument(f"{start.isoformat()} is after en_date {end.isoformat()}", "st_date", st_date)
    return start, end


def validate_list_of_words_from_csv_or_list(data: Union[str, List[str]]) -> List[str]:
    """Split a CSV string to a list of stripped words; a list of (CSV) strings is split and flattened.

    Every element must be a single word. Empty elements are dropped.

    :param data: A CSV string, or a list, tuple or set of strings, possibly CSV themselves.
    :return: The stripped words, in order.
    :raises InvalidArgumentType: If ``data`` is neither a string nor a list of strings.
    :raises InvalidArgument: If an element holds several words.

    .. code-block:: python

        validate_list_of_words_from_csv_or_list('a, b,c')  # ['a', 'b', 'c']
        validate_list_of_words_from_csv_or_list(['a', 'b, c'])  # ['a', 'b', 'c']
        validate_list_of_words_from_csv_or_list('a b, c')  # InvalidArgument
    """
    if isinstance(data, str):
        data = [data]
    elif not isinstance(data, _COLLECTIONS):
        raise _wrong_type("data", "a string or a list of strings", data)

    words = []
    for item in data:
        if not isinstance(item, str):
            raise _wrong_type("data", "strings", item)
        for part in item.split(","):
            word = part.strip()
            if len(word.split()) > 1:
                raise InvalidArgument(f"expected single words, got {word!r}", "data", word)
            if word:
                words.append(word)
    return words


def first_or_none(items: Iterable, condition: Optional[Callable[[Any], Any]] = None) -> Any:
    """Return the first element of ``items`` that matches ``condition`` (or the first at all), else ``None``.

    :param items: Any iterable.
    :param condition: A callable that tells whether an element matches.
    :return: The first matching element, or ``None``.

    .. code-block:: python

        first_or_none([1, 2, 3], lambda x: x > 1)  # 2
        first_or_none([])  # None
    """
    for item in items:
        if condition is None or condition(item):
            return item
    return None


def recursive_update(d: Optional[Mapping], u: Optional[Mapping]) -> Dict:
    """Recursively update the dictionary ``d`` with ``u`` and return the result; ``d`` itself is not changed.

    Values of ``u`` win on a type conflict. List, set and tuple values present in both are merged keeping each value
    once, in order (those of ``d`` first), and returned as a list.

    :param d: The base dictionary.
    :param u: The dictionary whose values win.
    :return: A new dictionary.
    :raises InvalidArgumentType: If ``d`` or ``u`` is not a dictionary (nor ``None``).

    .. code-block:: python

        recursive_update({'a': {'b': 1, 'l': [1]}}, {'a': {'c': 2, 'l': [2]}})
        # {'a': {'b': 1, 'l': [1, 2], 'c': 2}}
    """
    for name, value in (("d", d), ("u", u)):
        if value is not None and not isinstance(value, Mapping):
            raise _wrong_type(name, "a dictionary", value)
    result = dict(d or {})
    for key, value in (u or {}).items():
        current = result.get(key)
        if isinstance(value, Mapping):
            result[key] = recursive_update(current if isinstance(current, Mapping) else {}, value)
        elif isinstance(value, (list, set, tuple)) and isinstance(current, (list, set, tuple)):
            merged = list(current)
            for item in value:
                if item not in merged:
                    merged.append(item)
            result[key] = merged
        else:
            result[key] = value
    return result


def trim_arn_to_name(arn: str) -> str:
    """Extract the function name from a Lambda ARN; a version or alias is dropped; a plain name passes through.

    See the `ARN format <https://docs.aws.amazon.com/general/latest/gr/aws-arns-and-namespaces.html>`_.

    :param arn: The ARN, or a plain name.
    :return: The name.
    :raises InvalidArgumentType: If ``arn`` is not a string.

    .. code-block:: python

        trim_arn_to_name('arn:aws:lambda:us-west-2:000000000000:function:bar:$LATEST')  # 'bar'
    """
    if not isinstance(arn, str):
        raise _wrong_type("arn", "a string", arn)
    if not arn.startswith("arn:"):
        return arn.split(":")[0]
    parts = arn.split(":")
    # arn:partition:service:region:account:resource-type:resource-name[:qualifier]
    if len(parts) >= 7:
        return parts[6]
    return parts[-1].split("/")[-1]


def trim_arn_to_account(arn: str) -> str:
    """Extract the account ID from a full ARN, with or without a version or alias; a bare account ID passes through.

    See the `ARN format <https://docs.aws.amazon.com/general/latest/gr/aws-arns-and-namespaces.html>`_.

    :param arn: The ARN, or a 12-digit account ID.
    :return: The account ID; empty for the resources that have none, like S3 buckets.
    :raises InvalidArgumentType: If ``arn`` is not a string.
    :raises InvalidArgument: If ``arn`` is neither an ARN nor an account ID, like a plain function name, which has no
        account (also an ``AttributeError``, as in 0.7.47).

    .. code-block:: python

        trim_arn_to_account('arn:aws:lambda:us-west-2:000000000000:function:bar:$LATEST')  # '000000000000'
        trim_arn_to_account('000000000000')  # '000000000000'
    """
    if not isinstance(arn, str):
        raise _wrong_type("arn", "a string", arn)
    if _AWS_ACCOUNT.fullmatch(arn):
        return arn
    parts = arn.split(":")
    if parts[0] != "arn" or len(parts) < 6:
        raise InvalidArgument(f"not an ARN, so it has no account: {arn!r}", "arn", arn)
    return parts[4]


def _digest(o: Any) -> bytes:
    """A digest of ``o`` that is equal for equal values, in any process."""
    if isinstance(o, float) and o.is_integer():
        o = int(o)
    if o is None:
        payload = b"N"
    elif isinstance(o, (bool, int)):
        # bool and integral float fall here too: True == 1 == 1.0, so they must hash alike.
        payload = b"i" + str(int(o)).encode()
    elif isinstance(o, float):
        payload = b"f" + repr(o).encode()
    elif isinstance(o, str):
        payload = b"s" + o.encode("utf-8", "surrogatepass")
    elif isinstance(o, bytes):
        payload = b"b" + o
    elif isinstance(o, Mapping):
        # Sorting digests rather than keys works for keys of types that do not compare with each other.
        payload = b"d" + b"".join(sorted(_digest(k) + _digest(v) for k, v in o.items()))
    elif isinstance(o, (set, frozenset)):
        payload = b"S" + b"".join(sorted(_digest(e) for e in o))
    elif isinstance(o, _SEQUENCES):
        payload = b"l" + b"".join(_digest(e) for e in o)
    else:
        try:
            payload = b"h" + str(hash(o)).encode()
        except TypeError:
            raise TypeError(f"o: unhashable type {_type_name(o)}") from None
    return hashlib.sha256(payload).digest()


def make_hash(o: Any) -> int:
    """Make a hash of ``o``, which may be a dictionary, list, tuple or set nested to any level.

    Dictionaries and sets hash alike whatever their order, and may mix keys of any types. Lists and tuples hash by
    their order, and a list hashes like the tuple of the same elements. Equal numbers hash alike (``1``, ``1.0``,
    ``True``).

    Unlike ``hash()``, the result is the same in every process for ``None``, ``bool``, ``int``, ``float``,
    ``str``, ``bytes`` and the containers of them. Other hashable values are included through their ``hash()``.

    :param o: The value to hash.
    :return: A non-negative 64-bit integer.
    :raises TypeError: If ``o`` contains an unhashable value that is not a dictionary, list, tuple or set.

    .. code-block:: python

        make_hash({'a': [1, {2, 3}], 1: None}) == make_hash({1: None, 'a': (1, {3, 2})})  # True
        make_hash([1, 2]) == make_hash([2, 1])  # False
    """
    return int.from_bytes(_digest(o)[:8], "big")


def to_bool(val: Any) -> bool:
    """Convert a flag, for example from an event or an environment variable, to ``bool``.

    :param val: Numbers are true unless zero; ``None`` is false. Strings ``'true'``, ``'yes'``, ``'y'``, ``'1'``,
        ``'on'`` are true; ``''``, ``'false'``, ``'no'``, ``'n'``, ``'0'``, ``'off'`` are false. Strings are stripped
        and compared regardless of case.
    :return: The flag.
    :raises InvalidArgument: For any other value.

    .. code-block:: python

        to_bool(' Yes ')  # True
        to_bool(2)  # True
        to_bool(None)  # False
        to_bool('maybe')  # InvalidArgument (a ValueError)
    """
    if val is None:
        return False
    if isinstance(val, (bool, int, float)):
        return bool(val)
    if isinstance(val, str):
        text = val.strip().lower()
        if text in _TRUE_STRINGS:
            return True
        if text in _FALSE_STRINGS:
            return False
    raise InvalidArgument(f"cannot convert {val!r} to bool", "val", val)


def small_int_from_string(input_string: str, num_digits: int = 2) -> int:
    """Make a small integer of at most ``num_digits`` digits from ``input_string``, the same in every process.

    It is the MD5 digest of the string modulo ``10 ** num_digits``, exactly as in 0.7.47, so values persisted by it
    (keys of partitions or batches) are found again.

    :param input_string: Any string.
    :param num_digits: The number of decimal digits of the result, at least 1.
    :return: An integer in ``[0, 10 ** num_digits)``.
    :raises InvalidArgument: If ``num_digits`` is not a positive integer (a ``ValueError``).
    :raises InvalidArgumentType: If ``input_string`` is not a string.

    .. code-block:: python

        small_int_from_string('hello world')  # 91
        small_int_from_string('hello world', num_digits=3)  # 291
    """
    if not isinstance(num_digits, int):
        raise _wrong_type("num_digits", "a positive integer", num_digits)
    if num_digits <= 0:
        raise InvalidArgument(f"must be a positive integer, got {num_digits!r}", "num_digits", num_digits)
    if not isinstance(input_string, str):
        raise _wrong_type("input_string", "a string", input_string)
    digest = hashlib.md5(input_string.encode(), usedforsecurity=False).hexdigest()
    # A 128-bit digest has at most 39 digits: more digits change nothing, and 10 ** 10 ** 9 would never finish.
    return int(digest, 16) % 10 ** min(num_digits, _MD5_DIGITS)


def _first_record(event: Any) -> Optional[Mapping]:
    if not isinstance(event, Mapping):
        return None
    records = event.get("Records")
    if not isinstance(records, list) or not records or not isinstance(records[0], Mapping):
        return None
    return records[0]


def is_event_from_sns(event: Any) -> bool:
    """Tell whether ``event`` came from SNS: a Lambda event of SNS records, or a bare SNS notification.

    The first record of a Lambda event must have ``Sns.Message``. A bare notification, as SQS gets it from an SNS
    subscription without raw message delivery, has ``Message`` and the ``TopicArn`` of an SNS topic.

    :param event: The Lambda event (or message).
    :return: True if it came from SNS.

    .. code-block:: python

        is_event_from_sns({'Records': [{'EventSource': 'aws:sns', 'Sns': {'Message': '{}'}}]})  # True
        is_event_from_sns({'Message': '{}', 'TopicArn': 'arn:aws:sns:us-west-2:000000000000:topic'})  # True
        is_event_from_sns({'foo': 'bar'})  # False
    """
    record = _first_record(event)
    if record is not None:
        sns = record.get("Sns")
        return isinstance(sns, Mapping) and bool(sns.get("Message"))
    if not isinstance(event, Mapping) or "Message" not in event:
        return False
    topic_arn = event.get("TopicArn")
    return isinstance(topic_arn, str) and ":sns:" in topic_arn


def is_event_from_sqs(event: Any) -> bool:
    """Tell whether ``event`` is a Lambda event from SQS: its first record has ``eventSource: aws:sqs``.

    :param event: The Lambda event.
    :return: True for an SQS event.

    .. code-block:: python

        is_event_from_sqs({'Records': [{'eventSource': 'aws:sqs', 'body': '{}'}]})  # True
        is_event_from_sqs({'foo': 'bar'})  # False
    """
    record = _first_record(event)
    return record is not None and record.get("eventSource") == "aws:sqs"


def _loads(text: Any, name: str) -> Any:
    """Decode the JSON text ``text``; a value that is no text is already decoded."""
    if not isinstance(text, (str, bytes, bytearray)):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        # Same type as 0.7.47 raised (a ValueError), with the field named.
        raise json.JSONDecodeError(f"{name}: {err.msg}", err.doc, err.pos) from err


def _message_from_sns_event(event: Mapping) -> Any:
    """The decoded message of a Lambda event from SNS (which has one record) or of a bare SNS notification."""
    records = event.get("Records")
    if not records:
        return _loads(event["Message"], "event.Message")
    if len(records) > 1:
        raise InvalidArgument(f"an SNS event has one record, got {len(records)}", "event.Records")
    return _loads(records[0]["Sns"]["Message"], "event.Records[0].Sns.Message")


def get_message_dict_from_sns_event(event: Mapping) -> Dict:
    """Decode the JSON message of a Lambda event from SNS, or of a bare SNS notification.

    :param event: The Lambda event from SNS (one record), or an SNS notification (``Message`` and ``TopicArn``).
    :return: ``Records[0].Sns.Message`` (or ``Message``), decoded.
    :raises EventNotFromSourceException: If ``event`` is not from SNS (a ``ValueError``).
    :raises InvalidArgument: If the event has more than one record.
    :raises ValueError: If the message is not JSON: a ``json.JSONDecodeError`` that names the field.

    .. code-block:: python

        event = {'Records': [{'EventSource': 'aws:sns', 'Sns': {'Message': '{"a": 1}'}}]}
        get_message_dict_from_sns_event(event)  # {'a': 1}
    """
    if not is_event_from_sns(event):
        raise EventNotFromSourceException("not from SNS: expected Records[0].Sns.Message, or Message and TopicArn")
    return _message_from_sns_event(event)


def get_message_dict_from_sqs_event(event: Mapping) -> List[Any]:
    """Decode the JSON body of each record of a Lambda event from SQS.

    :param event: The Lambda event from SQS.
    :return: The decoded ``body`` of each of ``Records``, in order.
    :raises EventNotFromSourceException: If ``event`` is not from SQS (a ``ValueError``).
    :raises ValueError: If a body is not JSON: a ``json.JSONDecodeError`` that names the record.

    .. code-block:: python

        event = {'Records': [{'eventSource': 'aws:sqs', 'body': '{"a": 1}'}]}
        get_message_dict_from_sqs_event(event)  # [{'a': 1}]
    """
    if not is_event_from_sqs(event):
        raise EventNotFromSourceException("not from SQS: expected Records with eventSource 'aws:sqs'")
    return [_loads(record["body"], f"event.Records[{i}].body") for i, record in enumerate(event["Records"])]


#: How :func:`unwrap_event_recursively` recognises each source: ``{source: function(event) -> bool}``. Looked up at
#: each call, so a source added here (with its extractor) is unwrapped too.
unwrap_checker_methods: Dict[str, Callable[[Any], bool]] = {
    "sns": is_event_from_sns,
    "sqs": is_event_from_sqs,
}

#: How :func:`unwrap_event_recursively` takes the messages out of an event of each source:
#: ``{source: function(event) -> message or list of messages}``.
unwrap_extractor_methods: Dict[str, Callable[[Any], Any]] = {
    "sns": _message_from_sns_event,
    "sqs": get_message_dict_from_sqs_event,
}


def unwrap_event_recursively(event: Any, sources: Optional[List[str]] = None) -> List[Any]:
    """Peel the SNS and SQS envelopes off ``event``, as many levels as there are, down to the messages.

    At each level, every message from one of ``sources`` is replaced by the messages inside it: the message of an SNS
    event or bare SNS notification (``Message`` + ``TopicArn``), the bodies of an SQS event; JSON text is decoded.
    Anything else is a message. Unwrapping stops when nothing changes, or after 10 levels.

    :param event: The Lambda event.
    :param sources: The envelopes to peel, among ``'sns'`` and ``'sqs'`` (any case). Default: all of them.
    :return: The messages, in order; a list even when there is one.
    :raises KeyError: If a source is unknown.
    :raises InvalidArgument: If an SNS event has more than one record.
    :raises ValueError: If a message or body inside is not JSON: a ``json.JSONDecodeError`` that names where.

    .. code-block:: python

        notification = json.dumps({'Type': 'Notification', 'TopicArn': 'arn:aws:sns:us-west-2:0:t',
                                   'Message': json.dumps({'a': 1})})
        event = {'Records': [{'eventSource': 'aws:sqs', 'body': notification}]}
        unwrap_event_recursively(event)  # [{'a': 1}]
        unwrap_event_recursively({'a': 1})  # [{'a': 1}]
    """
    names = [source.lower() for source in sources or unwrap_checker_methods]
    for name in names:
        if name not in unwrap_checker_methods or name not in unwrap_extractor_methods:
            raise KeyError(f"sources: unknown source {name!r}; known: {', '.join(sorted(unwrap_checker_methods))}")

    messages = [event]
    for _ in range(_MAX_UNWRAP_DEPTH):
        changed = False
        for name in names:
            is_from_source, extract = unwrap_checker_methods[name], unwrap_extractor_methods[name]
            unwrapped = []
            for message in messages:
                if is_from_source(message):
                    inner = extract(message)
                    unwrapped.extend(inner if isinstance(inner, list) else [inner])
                    changed = True
                else:
                    unwrapped.append(message)
            messages = unwrapped
        if not changed:
            break
    return messages
