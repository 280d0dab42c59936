"""
Static helpers usable in any Lambda. They depend on nothing but the standard library.

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
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

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
_INTEGER = re.compile(r"-?\d+")
_WORD_SEPARATORS = re.compile(r"[\s,]+")

_DATE_FORMAT = "%Y-%m-%d"
_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Epoch seconds stay below 1e10 until the year 2286, epoch milliseconds pass it in April 1970.
_EPOCH_MILLISECONDS_FROM = 10_000_000_000

_TRUE_STRINGS = frozenset({"true", "yes", "y", "1", "on"})
_FALSE_STRINGS = frozenset({"false", "no", "n", "0", "off", ""})

# Default of lookups where an absent key must not equal any value, not even None.
_MISSING = object()
_SOFT_KWARGS = ("separator", "exclude_key", "exclude_val")

_SEQUENCES = (list, tuple)
_COLLECTIONS = (list, tuple, set, frozenset)


def _type_name(value: Any) -> str:
    return type(value).__name__


def validate_account_to_dashed(account: Union[str, int]) -> str:
    """Validate that ``account`` is an AdWords account (10 digits) and return it in the dashed format.

    :param account: ``'1234567890'``, ``'123-456-7890'`` or ``1234567890``. Surrounding spaces are ignored.
    :return: The account as ``'123-456-7890'``.
    :raises TypeError: If ``account`` is neither a string nor an integer.
    :raises ValueError: If ``account`` is not ten digits, plain or dashed as ``XXX-XXX-XXXX``.

    .. code-block:: python

        validate_account_to_dashed(1234567890)  # '123-456-7890'
        validate_account_to_dashed('123-456-7890')  # '123-456-7890'
    """
    if isinstance(account, bool) or not isinstance(account, (str, int)):
        raise TypeError(f"account: expected a string or an integer, got {_type_name(account)}")
    text = str(account).strip()
    if _ACCOUNT_DASHED.fullmatch(text):
        return text
    if _ACCOUNT_DIGITS.fullmatch(text):
        return f"{text[:3]}-{text[3:6]}-{text[6:]}"
    raise ValueError(f"account: expected 10 digits as 1234567890 or 123-456-7890, got {account!r}")


def validate_account_to_int(account: Union[str, int]) -> int:
    """Validate that ``account`` is an AdWords account (10 digits) and return it as an integer.

    :param account: ``'1234567890'``, ``'123-456-7890'`` or ``1234567890``. Surrounding spaces are ignored.
    :return: The account ID as an integer.
    :raises TypeError: If ``account`` is neither a string nor an integer.
    :raises ValueError: If ``account`` is not ten digits, plain or dashed as ``XXX-XXX-XXXX``.

    .. code-block:: python

        validate_account_to_int('123-456-7890')  # 1234567890
    """
    return int(validate_account_to_dashed(account).replace("-", ""))


def validate_list_of_numbers_from_csv(data: Union[str, Iterable]) -> List[int]:
    """Convert comma separated integers to a sorted list of unique integers. Values that are not integers are skipped.

    :param data: A CSV string, or an iterable of integers and CSV strings.
    :return: Sorted unique integers.
    :raises TypeError: If ``data`` is neither a string nor an iterable.

    .. code-block:: python

        validate_list_of_numbers_from_csv('3, 1,x, 3,2.5')  # [1, 3]
        validate_list_of_numbers_from_csv(['5', 4, '1,2'])  # [1, 2, 4, 5]
    """
    if isinstance(data, str):
        data = [data]
    elif not isinstance(data, Iterable):
        raise TypeError(f"data: expected a string or an iterable, got {_type_name(data)}")

    numbers = set()
    for item in data:
        if isinstance(item, int) and not isinstance(item, bool):
            numbers.add(item)
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


def chunks(items: Sequence, size: int) -> Iterator[List]:
    """Yield successive lists of at most ``size`` elements of ``items``.

    :param items: Any iterable.
    :param size: Positive chunk size.
    :raises ValueError: If ``size`` is less than 1.

    .. code-block:: python

        list(chunks([1, 2, 3, 4, 5], 2))  # [[1, 2], [3, 4], [5]]
    """
    if size < 1:
        raise ValueError(f"size: must be a positive integer, got {size!r}")
    batch: List = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
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
    :raises TypeError: If ``uuid_string`` is not a string.
    :raises ValueError: If ``uuid_string`` is not a UUID, or not of version 4.

    .. code-block:: python

        validate_uuid4('3F2504E0-4F89-41D3-9A0C-0305E82C3301')  # '3f2504e0-4f89-41d3-9a0c-0305e82c3301'
        validate_uuid4('3f2504e0-4f89-11d3-9a0c-0305e82c3301')  # ValueError: version 1
    """
    if not isinstance(uuid_string, str):
        raise TypeError(f"uuid_string: expected a string, got {_type_name(uuid_string)}")
    try:
        value = uuid.UUID(uuid_string)
    except ValueError:
        raise ValueError(f"uuid_string: not a UUID: {uuid_string!r}") from None
    if value.version != 4 or value.variant != uuid.RFC_4122:
        raise ValueError(f"uuid_string: not a version 4 UUID: {uuid_string!r}")
    return str(value)


def rstrip_all(input: str, patterns: Union[str, Iterable[str]]) -> str:
    """Strip every pattern from the right of ``input``, repeatedly. Order and spaces do not matter.

    :param input: String to modify.
    :param patterns: A pattern or an iterable of patterns to remove. Their surrounding spaces are ignored.
    :return: ``input`` without any of the ``patterns`` or spaces at its end.
    :raises TypeError: If ``input`` or a pattern is not a string.
    :raises ValueError: If a pattern is empty.

    .. code-block:: python

        rstrip_all('name_b _a_b ', ['_a', '_b'])  # 'name'
    """
    if not isinstance(input, str):
        raise TypeError(f"input: expected a string, got {_type_name(input)}")
    if isinstance(patterns, str):
        patterns = [patterns]
    suffixes = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"patterns: expected strings, got {_type_name(pattern)}")
        if not pattern.strip():
            raise ValueError(f"patterns: a pattern must not be empty, got {pattern!r}")
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
        raise ValueError(f"vtype: must be callable, got {vtype!r}")
    try:
        return vtype(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: cannot convert {value!r} with {getattr(vtype, '__name__', vtype)}: {err}") from err


def get_one_or_none_from_dict(input: Mapping, name: str, vtype: Optional[Callable] = None) -> Any:
    """Extract the value of ``name`` from ``input``, else of its plural ``name + 's'``; ``None`` if neither is set.

    A list, tuple or set found there must have at most one element, which is returned.

    :param input: Input dictionary, a Lambda event for example.
    :param name: Name of the attribute, in singular form.
    :param vtype: Callable to convert the result with, for example ``str``, ``int`` or ``float``.
    :return: The (converted) value, or ``None``.
    :raises ValueError: In every case something is wrong: ``input`` not a dictionary, several values, failed
        conversion.

    .. code-block:: python

        get_one_or_none_from_dict({'ids': ['42']}, 'id', int)  # 42
        get_one_or_none_from_dict({}, 'id')  # None
    """
    if not isinstance(input, Mapping):
        raise ValueError(f"input: expected a dictionary, got {_type_name(input)}")
    value = input.get(name)
    if value is None:
        value = input.get(f"{name}s")
    if isinstance(value, _COLLECTIONS):
        if len(value) > 1:
            raise ValueError(f"{name}: expected at most one value, got {len(value)}: {value!r}")
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
    :raises ValueError: In every case something is wrong: ``input`` not a dictionary, no value, several values,
        failed conversion.

    .. code-block:: python

        get_one_from_dict({'id': 42}, 'id', str)  # '42'
        get_one_from_dict({'ids': []}, 'id')  # ValueError
    """
    value = get_one_or_none_from_dict(input, name, vtype)
    if value is None:
        raise ValueError(f"{name}: input has no value for {name!r} nor {name + 's'!r}")
    return value


def get_list_of_multiple_or_one_or_empty_from_dict(input: Mapping, name: str, vtype: Optional[Callable] = None) -> List:
    """Extract the values of ``name`` from ``input`` as a list; the singular form of ``name`` is tried too.

    :param input: Input dictionary, a Lambda event for example.
    :param name: Name of the attribute, in plural form. The singular is ``name`` without its trailing ``s``.
    :param vtype: Callable to convert each element with, for example ``str``, ``int`` or ``float``.
    :return: A list of the (converted) values; empty if none is set.
    :raises ValueError: In every case something is wrong: ``input`` not a dictionary, failed conversion.

    .. code-block:: python

        get_list_of_multiple_or_one_or_empty_from_dict({'ids': ['1', '2']}, 'ids', int)  # [1, 2]
        get_list_of_multiple_or_one_or_empty_from_dict({'id': 3}, 'ids')  # [3]
        get_list_of_multiple_or_one_or_empty_from_dict({}, 'ids')  # []
    """
    if not isinstance(input, Mapping):
        raise ValueError(f"input: expected a dictionary, got {_type_name(input)}")
    value = input.get(name)
    if value is None and name.endswith("s"):
        value = input.get(name[:-1])
    if value is None:
        return []
    values = list(value) if isinstance(value, _COLLECTIONS) else [value]
    return [_convert(item, vtype, name) for item in values]


def _days_back(value: Any, name: str) -> datetime.timedelta:
    # int() alone would take 1.9 as 1 and True as 1; JSON events may carry the number as a string.
    if isinstance(value, (bool, float)) or not isinstance(value, (int, str)):
        raise ValueError(f"{name}: expected a whole number of days, got {value!r}")
    try:
        days = int(value)
    except ValueError:
        raise ValueError(f"{name}: expected a whole number of days, got {value!r}") from None
    if days < 0:
        raise ValueError(f"{name}: expected zero or more days, got {value!r}")
    return datetime.timedelta(days=days)


def validate_date_list_from_event_or_days_back(
    input: Mapping, days_back: int = 0, key_name: str = "date_list"
) -> List[datetime.date]:
    """Extract the list of dates ``input[key_name]``, else make a list of the one date ``days_back`` days ago.

    The dates are a list or a comma separated string of ``YYYY-MM-DD``; elements of the list may also be anything
    :func:`validate_date_from_something` accepts. A missing, ``None`` or empty value means no dates were given.

    :param input: This is supposed to be your whole Lambda event.
    :param days_back: Number of days back from today when ``input`` has no dates: 1 is yesterday. Default: today.
    :param key_name: Custom name of the key to extract from ``input``.
    :return: The dates, in the given order.
    :raises TypeError: If ``input`` is not a dictionary, or the value is neither a string nor a list.
    :raises ValueError: If a date is not valid, or ``days_back`` is not a whole number, zero or more.

    .. code-block:: python

        validate_date_list_from_event_or_days_back({'date_list': '2018-01-01, 2018-02-01'})
        # [datetime.date(2018, 1, 1), datetime.date(2018, 2, 1)]
        validate_date_list_from_event_or_days_back({}, days_back=1)  # [yesterday]
    """
    if not isinstance(input, Mapping):
        raise TypeError(f"input: expected a dictionary, got {_type_name(input)}")
    value = input.get(key_name)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    elif value is not None and not isinstance(value, _SEQUENCES):
        raise TypeError(f"{key_name}: expected a list or a comma separated string, got {_type_name(value)}")
    if not value:
        return [datetime.date.today() - _days_back(days_back, "days_back")]

    dates = []
    for item in value:
        try:
            dates.append(validate_date_from_something(item))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{key_name}: invalid date {item!r}: {err}") from err
    return dates


def validate_datetime_from_something(d: Any) -> datetime.datetime:
    """Convert ``d`` to ``datetime.datetime``.

    Numbers are Unix epoch seconds, or milliseconds when 1e10 or more; they are converted to naive UTC time.

    :param d: A ``datetime.datetime`` (returned as is), a ``datetime.date`` (midnight), an ``int`` or ``float``
        epoch in seconds or milliseconds, or a string ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS``.
    :return: The datetime.
    :raises TypeError: If ``d`` is of another type.
    :raises ValueError: If a string is in neither format, or a number is out of range.

    .. code-block:: python

        validate_datetime_from_something('2019-01-01 10:11:12')  # datetime.datetime(2019, 1, 1, 10, 11, 12)
        validate_datetime_from_something(1546300800000)  # datetime.datetime(2019, 1, 1, 0, 0)
    """
    if isinstance(d, datetime.datetime):
        return d
    if isinstance(d, datetime.date):
        return datetime.datetime.combine(d, datetime.time())
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        seconds = d / 1000 if abs(d) >= _EPOCH_MILLISECONDS_FROM else d
        try:
            return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError) as err:
            raise ValueError(f"d: epoch {d!r} is out of range: {err}") from err
    if isinstance(d, str):
        text = d.strip()
        for date_format in (_DATE_FORMAT, _DATETIME_FORMAT):
            try:
                return datetime.datetime.strptime(text, date_format)
            except ValueError:
                continue
        raise ValueError(f"d: expected 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS', got {d!r}")
    raise TypeError(f"d: expected a date, a datetime, a number or a string, got {_type_name(d)}")


def validate_date_from_something(d: Any) -> datetime.date:
    """Convert ``d`` to ``datetime.date``; the time of day, if any, is dropped.

    Numbers are Unix epoch seconds, or milliseconds when 1e10 or more, taken in UTC.

    :param d: A ``datetime.datetime``, a ``datetime.date``, an ``int`` or ``float`` epoch in seconds or
        milliseconds, or a string ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS``.
    :return: The date.
    :raises TypeError: If ``d`` is of another type.
    :raises ValueError: If a string is in neither format, or a number is out of range.

    .. code-block:: python

        validate_date_from_something('2019-01-01 10:11:12')  # datetime.date(2019, 1, 1)
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
    :raises TypeError: If ``date_str`` is not a string.
    :raises ValueError: If ``date_str`` does not match ``date_format``.

    .. code-block:: python

        validate_string_matches_datetime_format('2018/09/16', '%Y/%m/%d')  # passes
        validate_string_matches_datetime_format('2018-09-16', '%Y/%m/%d', 'st_date')  # ValueError naming st_date
    """
    if not isinstance(date_str, str):
        raise TypeError(f"{field_name}: expected a string, got {_type_name(date_str)}")
    try:
        datetime.datetime.strptime(date_str, date_format)
    except ValueError:
        raise ValueError(f"{field_name}: {date_str!r} does not match the format {date_format!r}") from None


def is_valid_date(date_str: str, date_formats: Union[str, Iterable[str]]) -> bool:
    """Tell whether ``date_str`` is in at least one of ``date_formats``.

    :param date_str: A date or time or both, for example ``'2018/09/16'``. Anything but a string is not valid.
    :param date_formats: A format for ``datetime.strptime``, or a list of them, for example ``['%Y/%m/%d']``.
    :return: True if ``date_str`` matches any of the formats, False otherwise.
    :raises TypeError: If ``date_formats`` is neither a string nor an iterable of strings.

    .. code-block:: python

        is_valid_date('2018/09/16', ['%Y-%m-%d', '%Y/%m/%d'])  # True
        is_valid_date('16.09.2018', ['%Y-%m-%d'])  # False
    """
    if isinstance(date_formats, str):
        date_formats = [date_formats]
    elif not isinstance(date_formats, Iterable):
        raise TypeError(f"date_formats: expected a string or a list of strings, got {_type_name(date_formats)}")
    formats = list(date_formats)
    for date_format in formats:
        if not isinstance(date_format, str):
            raise TypeError(f"date_formats: expected strings, got {_type_name(date_format)}")
    if not isinstance(date_str, str):
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
    if not isinstance(separator, str) or not separator:
        raise ValueError(f"separator: expected a non-empty string, got {separator!r}")
    if not isinstance(key, str):
        raise TypeError(f"key: expected a string, got {_type_name(key)}")
    if not key:
        raise ValueError("key: must not be empty")
    return key.split(separator)


def _check_kwargs(kwargs: Mapping, allowed: Tuple[str, ...], function: str) -> None:
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"{function}() got unexpected keyword arguments: {', '.join(unknown)}")
    if "exclude_val" in kwargs and "exclude_key" not in kwargs:
        raise TypeError(f"{function}(): exclude_val requires exclude_key")


def _walk(src: Any, path: List[str], strict: bool, key: str) -> Iterator[Tuple[Mapping, Any]]:
    """Yield ``(parent, value)`` for each element at ``path`` in ``src``, descending into every list and tuple.

    With ``strict``, an inaccessible path raises instead of being skipped.
    """
    if isinstance(src, _SEQUENCES):
        for element in src:
            yield from _walk(element, path, strict, key)
        return
    if not isinstance(src, Mapping):
        if strict:
            raise AttributeError(f"key: {key!r} is inaccessible: {path[0]!r} is looked up in a {_type_name(src)}")
        return
    head = path[0]
    if head not in src:
        if strict:
            raise KeyError(f"key: {key!r} is inaccessible: no {head!r}")
        return
    if len(path) == 1:
        yield src, src[head]
    else:
        yield from _walk(src[head], path[1:], strict, key)


def _check_src(src: Any) -> None:
    if not isinstance(src, (Mapping, *_SEQUENCES)):
        raise TypeError(f"src: expected a dictionary or a list, got {_type_name(src)}")


def _walk_soft_excluding(src: Any, key: str, kwargs: Mapping) -> Iterator[Any]:
    _check_src(src)
    path = _split_path(key, kwargs.get("separator"))
    for parent, value in _walk(src, path, strict=False, key=key):
        if "exclude_key" in kwargs and parent.get(kwargs["exclude_key"], _MISSING) == kwargs.get("exclude_val"):
            continue
        yield value


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
    :raises TypeError: If ``src`` or ``key`` is of the wrong type, or on unknown ``kwargs``.
    :raises ValueError: If ``key`` or the separator is empty.

    .. code-block:: python

        src = {'a': [{'id': 1, 'b': 'x'}, {'id': 2, 'b': 'y'}, {'id': 3, 'b': 'x'}]}
        recursive_matches_soft(src, 'a.b', 'x')  # True
        recursive_matches_soft(src, 'a.c', 'x')  # False
        recursive_matches_soft(src, 'a.b', 'x', exclude_key='id', exclude_val=1)  # True: id 3 is a duplicate
        recursive_matches_soft(src, 'a.b', 'y', exclude_key='id', exclude_val=2)  # False
    """
    _check_kwargs(kwargs, _SOFT_KWARGS, "recursive_matches_soft")
    return any(value == val for value in _walk_soft_excluding(src, key, kwargs))


def recursive_matches_strict(src: Union[Mapping, Sequence], key: str, val: Any, **kwargs: Any) -> bool:
    """Tell whether any element at the dot notation path ``key`` in ``src`` equals ``val``; the path must exist.

    Every element of a list or tuple met on the path is searched, and each must have the rest of the path. The value
    at the end of the path is compared as a whole, even if it is a list.

    :param src: Input dictionary (or list). Can contain nested dictionaries and lists.
    :param key: Path to search, with dot notation.
    :param val: Value to match in the elements at the path.
    :param kwargs: ``separator`` (str): custom path separator, default ``'.'``.
    :return: True if any element matches.
    :raises KeyError: If a dictionary on the path lacks the next key.
    :raises AttributeError: If the path goes on through something that is neither a dictionary nor a list.
    :raises TypeError: If ``src`` or ``key`` is of the wrong type, or on unknown ``kwargs``.
    :raises ValueError: If ``key`` or the separator is empty.

    .. code-block:: python

        recursive_matches_strict({'a': [{'b': 1}, {'b': 2}]}, 'a.b', 2)  # True
        recursive_matches_strict({'a': [{'b': 1}, {'c': 2}]}, 'a.b', 1)  # KeyError: the second has no 'b'
    """
    _check_kwargs(kwargs, ("separator",), "recursive_matches_strict")
    _check_src(src)
    path = _split_path(key, kwargs.get("separator"))
    # Walk the whole structure before comparing, so that an inaccessible path raises wherever it is.
    values = [value for _, value in _walk(src, path, strict=True, key=key)]
    return any(value == val for value in values)


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
    :raises TypeError: If ``src`` or ``key`` is of the wrong type, or on unknown ``kwargs``.
    :raises ValueError: If ``key`` or the separator is empty.

    .. code-block:: python

        src = {'a': [{'id': 1, 'b': 'x'}, {'id': 2, 'b': 'y'}]}
        recursive_matches_extract(src, 'a.b')  # 'x'
        recursive_matches_extract(src, 'a.b', exclude_key='id', exclude_val=1)  # 'y'
        recursive_matches_extract(src, 'a/b', separator='/')  # 'x'
        recursive_matches_extract(src, 'a.c')  # None
    """
    _check_kwargs(kwargs, ("exclude_key", "exclude_val"), "recursive_matches_extract")
    return next(_walk_soft_excluding(src, key, {**kwargs, "separator": separator}), None)


def recursive_exists_soft(src: Union[Mapping, Sequence], key: str, separator: Optional[str] = None) -> bool:
    """Tell whether the dot notation path ``key`` exists in ``src`` for at least one element of the lists on it.

    The value at the end of the path may be anything, ``None`` included.

    :param src: Input dictionary (or list). Can contain nested dictionaries and lists.
    :param key: Path to search, with dot notation.
    :param separator: Custom path separator. Default: ``'.'``.
    :return: True if the path exists somewhere.
    :raises TypeError: If ``src`` or ``key`` is of the wrong type.
    :raises ValueError: If ``key`` or the separator is empty.

    .. code-block:: python

        recursive_exists_soft({'a': [{'b': None}, {'c': 1}]}, 'a.b')  # True
        recursive_exists_soft({'a': [{'c': 1}]}, 'a.b')  # False
    """
    _check_src(src)
    path = _split_path(key, separator)
    return next(_walk(src, path, strict=False, key=key), None) is not None


def recursive_exists_strict(src: Union[Mapping, Sequence], key: str, separator: Optional[str] = None) -> bool:
    """Tell whether the dot notation path ``key`` exists in ``src`` for every element of every list on it.

    The value at the end of the path may be anything, ``None`` included. The path must lead to one value at least:
    an empty list on it gives False.

    :param src: Input dictionary (or list). Can contain nested dictionaries and lists.
    :param key: Path to search, with dot notation.
    :param separator: Custom path separator. Default: ``'.'``.
    :return: True if the path exists everywhere.
    :raises TypeError: If ``src`` or ``key`` is of the wrong type.
    :raises ValueError: If ``key`` or the separator is empty.

    .. code-block:: python

        recursive_exists_strict({'a': [{'b': None}, {'b': 1}]}, 'a.b')  # True
        recursive_exists_strict({'a': [{'b': None}, {'c': 1}]}, 'a.b')  # False
    """
    _check_src(src)
    path = _split_path(key, separator)
    try:
        found = list(_walk(src, path, strict=True, key=key))
    except (KeyError, AttributeError):
        return False
    return bool(found)


def nested_dict_from_keys(keys: List, value: Optional[Any] = None) -> Dict:
    """Construct a nested dictionary with each of ``keys`` embedded in the previous one; ``value`` is at the bottom.

    :param keys: List (or tuple) of keys to embed, at least one.
    :param value: Value to set at the lowest level.
    :return: The nested dictionary.
    :raises TypeError: If ``keys`` is not a list or a tuple.
    :raises ValueError: If ``keys`` is empty.

    .. code-block:: python

        nested_dict_from_keys(['a', 'b', 'c'])  # {'a': {'b': {'c': None}}}
        nested_dict_from_keys(['a', 'b', 'c'], value=42)  # {'a': {'b': {'c': 42}}}
    """
    if not isinstance(keys, _SEQUENCES):
        raise TypeError(f"keys: expected a list or a tuple, got {_type_name(keys)}")
    if not keys:
        raise ValueError("keys: must not be empty")
    result: Any = value
    for key in reversed(keys):
        result = {key: result}
    return result


def dunder_to_dict(data: Mapping, separator: Optional[str] = None) -> Dict:
    """Convert a flat dictionary whose keys use dunder notation (``a__b``) for nesting to a nested dictionary.

    Keys that are not strings are kept as they are.

    :param data: The flat dictionary.
    :param separator: Custom separator of the levels in the keys. Default: ``'__'``.
    :return: A new nested dictionary.
    :raises TypeError: If ``data`` is not a dictionary.
    :raises ValueError: If the separator is empty, or a key is both a value and a level of nesting (``a`` and
        ``a__b``).

    .. code-block:: python

        dunder_to_dict({'a': 'v1', 'b__c': 'v2', 'b__d__e': 'v3'})
        # {'a': 'v1', 'b': {'c': 'v2', 'd': {'e': 'v3'}}}
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"data: expected a dictionary, got {_type_name(data)}")
    if separator is None:
        separator = "__"
    if not isinstance(separator, str) or not separator:
        raise ValueError(f"separator: expected a non-empty string, got {separator!r}")

    result: Dict = {}
    # Only dictionaries made here may be nested into: a dictionary given as a value belongs to the caller.
    made_here = {id(result)}
    for key, value in data.items():
        parts = key.split(separator) if isinstance(key, str) else [key]
        level = result
        for part in parts[:-1]:
            if part not in level:
                level[part] = {}
                made_here.add(id(level[part]))
            level = level[part]
            if id(level) not in made_here:
                raise ValueError(f"data: key {key!r} nests under {part!r}, which already has a value")
        if parts[-1] in level:
            raise ValueError(f"data: key {key!r} is also a level of nesting of another key")
        level[parts[-1]] = value
    return result


def convert_string_to_words(string: str) -> str:
    """Convert a string of words separated by spaces and/or commas to comma separated words.

    :param string: String to convert into words.
    :return: The words, in order, joined by commas without spaces.
    :raises TypeError: If ``string`` is not a string.

    .. code-block:: python

        convert_string_to_words(' foo bar,baz ,, qux ')  # 'foo,bar,baz,qux'
    """
    if not isinstance(string, str):
        raise TypeError(f"string: expected a string, got {_type_name(string)}")
    return ",".join(word for word in _WORD_SEPARATORS.split(string) if word)


def construct_dates_from_event(event: Mapping) -> Tuple[datetime.date, datetime.date]:
    """Extract the period from ``event``: its start and end dates.

    The end date is ``en_date``, today by default. The start date is either ``st_date``, or ``days_back`` days before
    the end date. Dates may be ``datetime.date``, ``datetime.datetime`` (the time of day is dropped) or
    ``'YYYY-MM-DD'`` strings; in fact anything :func:`validate_date_from_something` accepts.

    :param event: Lambda payload.
    :return: ``(start_date, end_date)`` as ``datetime.date``.
    :raises TypeError: If ``event`` is not a dictionary, or a date is of a wrong type.
    :raises ValueError: If the event has both or neither of ``st_date`` and ``days_back``, a date is not valid,
        ``days_back`` is not a whole number, zero or more, or the start date is after the end date.

    .. code-block:: python

        construct_dates_from_event({'st_date': '2019-01-01', 'en_date': '2019-01-31'})
        # (datetime.date(2019, 1, 1), datetime.date(2019, 1, 31))
        construct_dates_from_event({'days_back': 7})  # (a week ago, today)
    """
    if not isinstance(event, Mapping):
        raise TypeError(f"event: expected a dictionary, got {_type_name(event)}")
    st_date, en_date, days_back = (event.get(name) for name in ("st_date", "en_date", "days_back"))
    if (st_date is None) == (days_back is None):
        raise ValueError("event: expected either st_date or days_back, not both and not neither")

    end = datetime.date.today() if en_date is None else _date_field(en_date, "en_date")
    if st_date is not None:
        start = _date_field(st_date, "st_date")
    else:
        start = end - _days_back(days_back, "days_back")
    if start > end:
        raise ValueError(f"st_date: {start.isoformat()} is after en_date {end.isoformat()}")
    return start, end


def _date_field(value: Any, name: str) -> datetime.date:
    try:
        return validate_date_from_something(value)
    except TypeError as err:
        raise TypeError(f"{name}: {err}") from err
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from err


def validate_list_of_words_from_csv_or_list(data: Union[str, List[str]]) -> List[str]:
    """Split a CSV string to a list of stripped words; a list of (CSV) strings is split and flattened.

    Every element must be a single word. Empty elements are dropped.

    :param data: A CSV string, or a list (or tuple) of strings, possibly CSV themselves.
    :return: The stripped words, in order.
    :raises TypeError: If ``data`` is neither a string nor a list of strings.
    :raises ValueError: If an element holds several words.

    .. code-block:: python

        validate_list_of_words_from_csv_or_list('a, b,c')  # ['a', 'b', 'c']
        validate_list_of_words_from_csv_or_list(['a', 'b, c'])  # ['a', 'b', 'c']
        validate_list_of_words_from_csv_or_list('a b, c')  # ValueError
    """
    if isinstance(data, str):
        data = [data]
    elif not isinstance(data, _SEQUENCES):
        raise TypeError(f"data: expected a string or a list of strings, got {_type_name(data)}")

    words = []
    for item in data:
        if not isinstance(item, str):
            raise TypeError(f"data: expected strings, got {_type_name(item)}")
        for part in item.split(","):
            word = part.strip()
            if len(word.split()) > 1:
                raise ValueError(f"data: expected single words, got {word!r}")
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


def recursive_update(d: Dict, u: Mapping) -> Dict:
    """Recursively update the dictionary ``d`` with ``u`` and return the result; ``d`` itself is not changed.

    Values of ``u`` win on a type conflict. List, set and tuple values present in both are merged keeping each value
    once, in order (those of ``d`` first), and returned as a list.

    :param d: The base dictionary.
    :param u: The dictionary whose values win.
    :return: A new dictionary.

    .. code-block:: python

        recursive_update({'a': {'b': 1, 'l': [1]}}, {'a': {'c': 2, 'l': [2]}})
        # {'a': {'b': 1, 'l': [1, 2], 'c': 2}}
    """
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
    :raises ValueError: If ``arn`` is not a string.

    .. code-block:: python

        trim_arn_to_name('arn:aws:lambda:us-west-2:000000000000:function:bar:$LATEST')  # 'bar'
    """
    if not isinstance(arn, str):
        raise ValueError(f"arn: expected a string, got {type(arn).__name__}")
    if not arn.startswith("arn:"):
        return arn.split(":")[0]
    parts = arn.split(":")
    # arn:partition:service:region:account:resource-type:resource-name[:qualifier]
    if len(parts) >= 7:
        return parts[6]
    return parts[-1].split("/")[-1]


def trim_arn_to_account(arn: str) -> str:
    """Extract the account ID from a full ARN, with or without a version or alias.

    See the `ARN format <https://docs.aws.amazon.com/general/latest/gr/aws-arns-and-namespaces.html>`_.

    :param arn: The ARN.
    :return: The account ID; empty for the resources that have none, like S3 buckets.
    :raises TypeError: If ``arn`` is not a string.
    :raises ValueError: If ``arn`` is not an ARN, like a plain function name, which has no account.

    .. code-block:: python

        trim_arn_to_account('arn:aws:lambda:us-west-2:000000000000:function:bar:$LATEST')  # '000000000000'
    """
    if not isinstance(arn, str):
        raise TypeError(f"arn: expected a string, got {_type_name(arn)}")
    parts = arn.split(":")
    if parts[0] != "arn" or len(parts) < 6:
        raise ValueError(f"arn: not an ARN, so it has no account: {arn!r}")
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


def to_bool(value: Any) -> bool:
    """Convert a flag, for example from an event or an environment variable, to ``bool``.

    :param value: ``True``, ``1``, or ``'true'``, ``'yes'``, ``'y'``, ``'1'``, ``'on'`` are true; ``False``, ``0``,
        ``None``, or ``''``, ``'false'``, ``'no'``, ``'n'``, ``'0'``, ``'off'`` are false. Strings are stripped and
        compared regardless of case.
    :return: The flag.
    :raises ValueError: For any other value.

    .. code-block:: python

        to_bool(' Yes ')  # True
        to_bool(None)  # False
        to_bool('maybe')  # ValueError
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_STRINGS:
            return True
        if text in _FALSE_STRINGS:
            return False
    raise ValueError(f"value: cannot convert {value!r} to bool")


def small_int_from_string(value: str, limit: int = 1000) -> int:
    """Make a small integer from ``value``, the same in every process, for example to spread items over shards.

    :param value: Any string.
    :param limit: The result is less than this, at least 1.
    :return: An integer in ``[0, limit)``.
    :raises TypeError: If ``value`` is not a string, or ``limit`` is not an integer.
    :raises ValueError: If ``limit`` is less than 1.

    .. code-block:: python

        small_int_from_string('some_task_id')  # the same number in [0, 1000) every time
        small_int_from_string('some_task_id', limit=10)  # in [0, 10)
    """
    if not isinstance(value, str):
        raise TypeError(f"value: expected a string, got {_type_name(value)}")
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit: expected an integer, got {_type_name(limit)}")
    if limit < 1:
        raise ValueError(f"limit: must be at least 1, got {limit}")
    # hash() of a string is salted per process; a digest is not.
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % limit


def _records_from(event: Any, source_field: str, source: str) -> Optional[List[Mapping]]:
    """The records of ``event`` if it is a Lambda event whose every record comes from ``source``, else ``None``."""
    if not isinstance(event, Mapping):
        return None
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        return None
    if all(isinstance(record, Mapping) and record.get(source_field) == source for record in records):
        return records
    return None


def is_event_from_sns(event: Any) -> bool:
    """Tell whether ``event`` is a Lambda event from SNS: every one of its ``Records`` has ``EventSource: aws:sns``.

    :param event: The Lambda event.
    :return: True for an SNS event.

    .. code-block:: python

        is_event_from_sns({'Records': [{'EventSource': 'aws:sns', 'Sns': {'Message': '{}'}}]})  # True
        is_event_from_sns({'foo': 'bar'})  # False
    """
    return _records_from(event, "EventSource", "aws:sns") is not None


def is_event_from_sqs(event: Any) -> bool:
    """Tell whether ``event`` is a Lambda event from SQS: every one of its ``Records`` has ``eventSource: aws:sqs``.

    :param event: The Lambda event.
    :return: True for an SQS event.

    .. code-block:: python

        is_event_from_sqs({'Records': [{'eventSource': 'aws:sqs', 'body': '{}'}]})  # True
        is_event_from_sqs({'foo': 'bar'})  # False
    """
    return _records_from(event, "eventSource", "aws:sqs") is not None


def _field(record: Mapping, path: Tuple[str, ...], name: str) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            raise ValueError(f"{name}: missing")
        value = value[part]
    return value


def _json_object(text: Any, name: str) -> Dict:
    if not isinstance(text, str):
        raise ValueError(f"{name}: expected a JSON string, got {_type_name(text)}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{name}: not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise ValueError(f"{name}: expected a JSON object, got {_type_name(value)}")
    return value


def get_message_dict_from_sns_event(event: Mapping) -> Dict:
    """Decode the JSON message of the (first) record of a Lambda event from SNS.

    :param event: The Lambda event from SNS.
    :return: ``Records[0].Sns.Message``, decoded.
    :raises ValueError: If ``event`` is not from SNS, or the message is not a JSON object.

    .. code-block:: python

        event = {'Records': [{'EventSource': 'aws:sns', 'Sns': {'Message': '{"a": 1}'}}]}
        get_message_dict_from_sns_event(event)  # {'a': 1}
    """
    records = _records_from(event, "EventSource", "aws:sns")
    if records is None:
        raise ValueError("event: not an SNS event: expected Records with EventSource 'aws:sns'")
    name = "event.Records[0].Sns.Message"
    return _json_object(_field(records[0], ("Sns", "Message"), name), name)


def get_message_dict_from_sqs_event(event: Mapping) -> List[Dict]:
    """Decode the JSON body of each record of a Lambda event from SQS.

    :param event: The Lambda event from SQS.
    :return: The decoded ``body`` of each of ``Records``, in order.
    :raises ValueError: If ``event`` is not from SQS, or a body is not a JSON object.

    .. code-block:: python

        event = {'Records': [{'eventSource': 'aws:sqs', 'body': '{"a": 1}'}]}
        get_message_dict_from_sqs_event(event)  # [{'a': 1}]
    """
    records = _records_from(event, "eventSource", "aws:sqs")
    if records is None:
        raise ValueError("event: not an SQS event: expected Records with eventSource 'aws:sqs'")
    messages = []
    for i, record in enumerate(records):
        name = f"event.Records[{i}].body"
        messages.append(_json_object(_field(record, ("body",), name), name))
    return messages


def _unwrap(payload: Any, name: str) -> List[Dict]:
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as err:
            raise ValueError(f"{name}: not valid JSON: {err}") from err
        # A JSON string decoding to another string was encoded twice: peel it as one more level.
        return _unwrap(payload, name)
    if not isinstance(payload, Mapping):
        raise ValueError(f"{name}: expected a JSON object, got {_type_name(payload)}")

    sns_records = _records_from(payload, "EventSource", "aws:sns")
    if sns_records is not None:
        return [
            message
            for i, record in enumerate(sns_records)
            for message in _unwrap(
                _field(record, ("Sns", "Message"), f"{name}.Records[{i}].Sns.Message"),
                f"{name}.Records[{i}].Sns.Message",
            )
        ]
    sqs_records = _records_from(payload, "eventSource", "aws:sqs")
    if sqs_records is not None:
        return [
            message
            for i, record in enumerate(sqs_records)
            for message in _unwrap(_field(record, ("body",), f"{name}.Records[{i}].body"), f"{name}.Records[{i}].body")
        ]
    # An SNS notification delivered to SQS without raw message delivery.
    if payload.get("Type") == "Notification" and "Message" in payload:
        return _unwrap(payload["Message"], f"{name}.Message")
    return [payload]


def unwrap_event_recursively(event: Mapping) -> Union[Dict, List[Dict]]:
    """Peel the SNS and SQS envelopes off ``event``, as many levels as there are, down to the payload.

    Recognised envelopes: a Lambda event from SNS (``Records[*].Sns.Message``), a Lambda event from SQS
    (``Records[*].body``), an SNS notification (``Type: Notification`` with ``Message``) as SQS gets it from SNS, and
    JSON strings. A dictionary that is none of these is the payload.

    :param event: The Lambda event.
    :return: The payload dictionary; a list of them, in order, if any level has several records.
    :raises TypeError: If ``event`` is not a dictionary.
    :raises ValueError: If a message or body inside is not a JSON object; the error names where it is.

    .. code-block:: python

        notification = json.dumps({'Type': 'Notification', 'Message': json.dumps({'a': 1})})
        event = {'Records': [{'eventSource': 'aws:sqs', 'body': notification}]}
        unwrap_event_recursively(event)  # {'a': 1}
        unwrap_event_recursively({'a': 1})  # {'a': 1}
    """
    if not isinstance(event, Mapping):
        raise TypeError(f"event: expected a dictionary, got {_type_name(event)}")
    messages = _unwrap(event, "event")
    return messages[0] if len(messages) == 1 else messages
