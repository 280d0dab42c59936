import datetime
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sosw.components import helpers
from sosw.components.helpers import (
    camel_case_to_underscore,
    chunks,
    construct_dates_from_event,
    convert_string_to_words,
    dunder_to_dict,
    first_or_none,
    get_list_of_multiple_or_one_or_empty_from_dict,
    get_message_dict_from_sns_event,
    get_message_dict_from_sqs_event,
    get_one_from_dict,
    get_one_or_none_from_dict,
    is_event_from_sns,
    is_event_from_sqs,
    is_valid_date,
    make_hash,
    nested_dict_from_keys,
    recursive_exists_soft,
    recursive_exists_strict,
    recursive_matches_extract,
    recursive_matches_soft,
    recursive_matches_strict,
    recursive_update,
    rstrip_all,
    small_int_from_string,
    to_bool,
    trim_arn_to_account,
    trim_arn_to_name,
    unwrap_event_recursively,
    validate_account_to_dashed,
    validate_account_to_int,
    validate_date_from_something,
    validate_date_list_from_event_or_days_back,
    validate_datetime_from_something,
    validate_list_of_numbers_from_csv,
    validate_list_of_words_from_csv_or_list,
    validate_string_matches_datetime_format,
    validate_uuid4,
)

D = datetime.date
DT = datetime.datetime
ARN = "arn:aws:lambda:us-west-2:000000000000:function:bar"


def run_in_another_process(code):
    """Run ``code`` in a new interpreter with another hash salt, and return what it prints."""
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(Path(helpers.__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout


def sns_event(*messages):
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-west-2:000000000000:topic:1",
                "Sns": {"Type": "Notification", "MessageId": str(i), "Message": message},
            }
            for i, message in enumerate(messages)
        ]
    }


def sqs_event(*bodies):
    return {
        "Records": [
            {"messageId": str(i), "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-west-2:0:q", "body": body}
            for i, body in enumerate(bodies)
        ]
    }


def sns_notification(message):
    """The body SQS gets from an SNS subscription without raw message delivery."""
    return json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:::t", "Message": message})


def test_public_names_exist():
    for name in helpers.__all__:
        assert callable(getattr(helpers, name)), name


# Accounts


@pytest.mark.parametrize(
    "account, dashed, number",
    [
        ("1234567890", "123-456-7890", 1234567890),
        ("123-456-7890", "123-456-7890", 1234567890),
        (" 123-456-7890 ", "123-456-7890", 1234567890),
        (1234567890, "123-456-7890", 1234567890),
        ("0123456789", "012-345-6789", 123456789),
    ],
)
def test_validate_account(account, dashed, number):
    assert validate_account_to_dashed(account) == dashed
    assert validate_account_to_int(account) == number


@pytest.mark.parametrize(
    "account, error",
    [
        ("", ValueError),
        ("123456789", ValueError),
        ("12345678901", ValueError),
        ("1234-56-7890", ValueError),
        ("123-4567890", ValueError),
        ("12a4567890", ValueError),
        (123456789, ValueError),
        (-123456789, ValueError),
        (None, TypeError),
        (True, TypeError),
        (1234567890.0, TypeError),
    ],
)
def test_validate_account_errors(account, error):
    with pytest.raises(error, match="account"):
        validate_account_to_dashed(account)
    with pytest.raises(error, match="account"):
        validate_account_to_int(account)


# CSV and words


@pytest.mark.parametrize(
    "data, expected",
    [
        ("1,2,3", [1, 2, 3]),
        ("3, 1,x, 3,2.5", [1, 3]),
        (" 10 ,-2, ,", [-2, 10]),
        ("", []),
        (["5", 4, "1,2", None, 2.5, True], [1, 2, 4, 5]),
        ((7, 7, 1), [1, 7]),
        ({"3", "2"}, [2, 3]),
    ],
)
def test_validate_list_of_numbers_from_csv(data, expected):
    assert validate_list_of_numbers_from_csv(data) == expected


@pytest.mark.parametrize("data, expected", [(None, []), (12, [12]), (1.5, [1.5])])
def test_validate_list_of_numbers_from_csv_of_a_number_or_nothing(data, expected):
    assert validate_list_of_numbers_from_csv(data) == expected


@pytest.mark.parametrize(
    "string, expected",
    [
        ("foo bar", "foo,bar"),
        (" foo bar,baz ,, qux ", "foo,bar,baz,qux"),
        ("foo\tbar\nbaz", "foo,bar,baz"),
        ("one", "one"),
        ("", ""),
        (" , ", ""),
    ],
)
def test_convert_string_to_words(string, expected):
    assert convert_string_to_words(string) == expected


@pytest.mark.parametrize("string", [None, 1, ["a"]])
def test_convert_string_to_words_errors(string):
    with pytest.raises(TypeError, match="string"):
        convert_string_to_words(string)


@pytest.mark.parametrize(
    "data, expected",
    [
        ("a, b,c", ["a", "b", "c"]),
        ("a", ["a"]),
        (["a", "b, c"], ["a", "b", "c"]),
        (("a ", " b"), ["a", "b"]),
        ("a,,b, ", ["a", "b"]),
        ("", []),
        ([], []),
    ],
)
def test_validate_list_of_words_from_csv_or_list(data, expected):
    assert validate_list_of_words_from_csv_or_list(data) == expected


@pytest.mark.parametrize(
    "data, error",
    [
        ("a b, c", ValueError),
        (["a", "b c"], ValueError),
        (None, TypeError),
        (1, TypeError),
        (["a", 1], TypeError),
    ],
)
def test_validate_list_of_words_from_csv_or_list_errors(data, error):
    with pytest.raises(error, match="data"):
        validate_list_of_words_from_csv_or_list(data)


# Strings


@pytest.mark.parametrize(
    "name, expected",
    [
        ("DynamoDb", "dynamo_db"),
        ("CamelCase", "camel_case"),
        ("camelCase", "camel_case"),
        ("HTTPResponse", "http_response"),
        ("already_done", "already_done"),
        (123, "123"),
    ],
)
def test_camel_case_to_underscore(name, expected):
    assert camel_case_to_underscore(name) == expected


@pytest.mark.parametrize(
    "value, patterns, expected",
    [
        ("name_b _a_b ", ["_a", "_b"], "name"),
        ("name_a", "_a", "name"),
        ("name_a_a_a", "_a", "name"),
        ("name _a _b", (" _b ", "_a"), "name"),
        ("name", ["_a"], "name"),
        ("  name  ", [], "  name"),
        ("_a", ["_a"], ""),
        ("a_b_a", {"_a"}, "a_b"),
        ("name", [""], "name"),
        ("name_a", "  ", "name_a"),
    ],
)
def test_rstrip_all(value, patterns, expected):
    assert rstrip_all(value, patterns) == expected


@pytest.mark.parametrize(
    "value, patterns, error, match",
    [
        (None, "_a", TypeError, "input"),
        ("name", [1], TypeError, "patterns"),
        ("name", 5, TypeError, "patterns"),
    ],
)
def test_rstrip_all_errors(value, patterns, error, match):
    with pytest.raises(error, match=match):
        rstrip_all(value, patterns)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("3f2504e0-4f89-41d3-9a0c-0305e82c3301", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
        ("3F2504E0-4F89-41D3-9A0C-0305E82C3301", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
        ("3f2504e04f8941d39a0c0305e82c3301", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
    ],
)
def test_validate_uuid4(value, expected):
    assert validate_uuid4(value) == expected


def test_validate_uuid4_of_a_new_uuid():
    value = str(uuid.uuid4())
    assert validate_uuid4(value) == value


@pytest.mark.parametrize(
    "value, error",
    [
        ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", ValueError),  # version 1
        ("3f2504e0-4f89-41d3-ca0c-0305e82c3301", ValueError),  # Microsoft variant
        ("3f2504e0-4f89-41d3-9a0c-0305e82c330", ValueError),
        ("not a uuid", ValueError),
        ("", ValueError),
        (None, TypeError),
        (uuid.uuid4(), TypeError),
    ],
)
def test_validate_uuid4_errors(value, error):
    with pytest.raises(error, match="uuid_string"):
        validate_uuid4(value)


# Values from dictionaries


@pytest.mark.parametrize(
    "data, name, vtype, expected",
    [
        ({"id": 42}, "id", None, 42),
        ({"ids": [42]}, "id", None, 42),
        ({"ids": ("42",)}, "id", int, 42),
        ({"ids": {"42"}}, "id", None, "42"),
        ({"id": ["42"]}, "id", float, 42.0),
        ({"id": 42}, "id", str, "42"),
        ({"id": 1, "ids": [2, 3]}, "id", None, 1),
        ({"id": None, "ids": [2]}, "id", None, 2),
        ({"id": {"a": 1}}, "id", None, {"a": 1}),
        ({"id": 0}, "id", None, 0),
        ({}, "id", None, None),
        ({"id": None}, "id", int, None),
        ({"ids": []}, "id", None, None),
        ({"other": 1}, "id", None, None),
    ],
)
def test_get_one_or_none_from_dict(data, name, vtype, expected):
    assert get_one_or_none_from_dict(data, name, vtype) == expected


@pytest.mark.parametrize(
    "data, name, vtype, match",
    [
        ({"ids": [1, 2]}, "id", None, "id: expected at most one"),
        ({"id": [1, 2]}, "id", None, "id: expected at most one"),
        ({"id": "x"}, "id", int, "id: cannot convert"),
        ({"id": None, "ids": ["x"]}, "id", float, "id: cannot convert"),
        ({"id": 1}, "id", "int", "vtype"),
        (None, "id", None, "input"),
        ([("id", 1)], "id", None, "input"),
    ],
)
def test_get_one_or_none_from_dict_errors(data, name, vtype, match):
    with pytest.raises(ValueError, match=match):
        get_one_or_none_from_dict(data, name, vtype)


@pytest.mark.parametrize(
    "data, name, vtype, expected",
    [
        ({"id": 42}, "id", None, 42),
        ({"ids": ["42"]}, "id", int, 42),
        ({"id": 0}, "id", None, 0),
        ({"id": ""}, "id", None, ""),
    ],
)
def test_get_one_from_dict(data, name, vtype, expected):
    assert get_one_from_dict(data, name, vtype) == expected


@pytest.mark.parametrize(
    "data, name, vtype, match",
    [
        ({}, "id", None, "id: input has no value"),
        ({"ids": []}, "id", None, "id: input has no value"),
        ({"id": None}, "id", None, "id: input has no value"),
        ({"ids": [1, 2]}, "id", None, "id: expected at most one"),
        ({"id": "x"}, "id", int, "id: cannot convert"),
        ("id=1", "id", None, "input"),
    ],
)
def test_get_one_from_dict_errors(data, name, vtype, match):
    with pytest.raises(ValueError, match=match):
        get_one_from_dict(data, name, vtype)


@pytest.mark.parametrize(
    "data, name, vtype, expected",
    [
        ({"ids": [1, 2]}, "ids", None, [1, 2]),
        ({"ids": ("1", "2")}, "ids", int, [1, 2]),
        ({"ids": "1"}, "ids", None, ["1"]),
        ({"id": 3}, "ids", None, [3]),
        ({"id": [3, 4]}, "ids", str, ["3", "4"]),
        ({"ids": [1], "id": 2}, "ids", None, [1]),
        ({"ids": None, "id": 2}, "ids", None, [2]),
        ({"ids": []}, "ids", None, []),
        ({}, "ids", None, []),
        ({"data": 5}, "data", None, [5]),
        ({"dat": 5}, "data", None, []),
    ],
)
def test_get_list_of_multiple_or_one_or_empty_from_dict(data, name, vtype, expected):
    assert get_list_of_multiple_or_one_or_empty_from_dict(data, name, vtype) == expected


@pytest.mark.parametrize(
    "data, name, vtype, match",
    [
        ({"ids": [1, "x"]}, "ids", int, "ids: cannot convert 'x'"),
        ({"ids": [1]}, "ids", 5, "vtype"),
        (None, "ids", None, "input"),
    ],
)
def test_get_list_of_multiple_or_one_or_empty_from_dict_errors(data, name, vtype, match):
    with pytest.raises(ValueError, match=match):
        get_list_of_multiple_or_one_or_empty_from_dict(data, name, vtype)


# Dates


def call_around_today(fn, *args, **kwargs):
    """Call ``fn`` and return its result with the possible values of today: the call may straddle midnight."""
    before = D.today()
    result = fn(*args, **kwargs)
    return result, {before, D.today()}


@pytest.mark.parametrize(
    "data, key_name, expected",
    [
        ({"date_list": ["2018-01-01", "2018-02-01"]}, "date_list", [D(2018, 1, 1), D(2018, 2, 1)]),
        ({"date_list": "2018-01-01, 2018-02-01"}, "date_list", [D(2018, 1, 1), D(2018, 2, 1)]),
        ({"date_list": "2018-02-01,"}, "date_list", [D(2018, 2, 1)]),
        ({"date_list": ("2018-01-01",)}, "date_list", [D(2018, 1, 1)]),
        ({"date_list": [D(2018, 1, 1), DT(2018, 1, 2, 3)]}, "date_list", [D(2018, 1, 1), D(2018, 1, 2)]),
        ({"dates": "2018-03-01"}, "dates", [D(2018, 3, 1)]),
    ],
)
def test_validate_date_list_from_event_or_days_back(data, key_name, expected):
    assert validate_date_list_from_event_or_days_back(data, key_name=key_name) == expected


@pytest.mark.parametrize(
    "data, days_back, days",
    [
        ({}, 0, 0),
        ({}, 1, 1),
        ({"date_list": None}, 3, 3),
        ({"date_list": ""}, 2, 2),
        ({"date_list": []}, 0, 0),
        ({"dates": ["2018-01-01"]}, 5, 5),
        ({}, -1, -1),
        ({}, 1.5, 1.5),
        ({}, "2", 2),
    ],
)
def test_validate_date_list_from_event_or_days_back_default(data, days_back, days):
    result, todays = call_around_today(validate_date_list_from_event_or_days_back, data, days_back=days_back)
    assert result in [[today - datetime.timedelta(days=days)] for today in todays]


@pytest.mark.parametrize(
    "data, days_back, error, match",
    [
        ({"date_list": ["2018-13-01"]}, 0, ValueError, "date_list: expected 'YYYY-MM-DD'"),
        ({"date_list": "2018-01-01, 01/02/2018"}, 0, ValueError, "date_list: expected 'YYYY-MM-DD'"),
        ({"date_list": [None]}, 0, TypeError, "date_list: expected a date"),
        ({"date_list": 20180101}, 0, TypeError, "date_list"),
        ({}, "x", TypeError, "days_back"),
        ({}, None, TypeError, "days_back"),
        (None, 0, TypeError, "input"),
    ],
)
def test_validate_date_list_from_event_or_days_back_errors(data, days_back, error, match):
    with pytest.raises(error, match=match):
        validate_date_list_from_event_or_days_back(data, days_back=days_back)


@pytest.mark.parametrize(
    "value, expected_date, expected_datetime",
    [
        (DT(2019, 1, 1, 10, 11, 12), D(2019, 1, 1), DT(2019, 1, 1, 10, 11, 12)),
        (D(2019, 1, 1), D(2019, 1, 1), DT(2019, 1, 1)),
        (1546300800, D(2019, 1, 1), DT(2019, 1, 1)),
        (1546300800000, D(2019, 1, 1), DT(2019, 1, 1)),
        (1546300800.5, D(2019, 1, 1), DT(2019, 1, 1, 0, 0, 0, 500000)),
        (1546387199999, D(2019, 1, 1), DT(2019, 1, 1, 23, 59, 59, 999000)),
        (0, D(1970, 1, 1), DT(1970, 1, 1)),
        ("2019-01-01", D(2019, 1, 1), DT(2019, 1, 1)),
        (" 2019-01-01 ", D(2019, 1, 1), DT(2019, 1, 1)),
        ("2019-01-01 10:11:12", D(2019, 1, 1), DT(2019, 1, 1, 10, 11, 12)),
        ("2019-01-01 10:11:12.250000", D(2019, 1, 1), DT(2019, 1, 1, 10, 11, 12, 250000)),
        ("2019-01-01 10:11:12+00:00", D(2019, 1, 1), DT(2019, 1, 1, 10, 11, 12)),
        ("1546300800", D(2019, 1, 1), DT(2019, 1, 1)),
        ("1000.5", D(1970, 1, 1), DT(1970, 1, 1, 0, 16, 40, 500000)),
    ],
)
def test_validate_date_and_datetime_from_something(value, expected_date, expected_datetime):
    assert validate_date_from_something(value) == expected_date
    assert type(validate_date_from_something(value)) is D
    assert validate_datetime_from_something(value) == expected_datetime


def test_validate_datetime_from_something_keeps_the_timezone():
    value = DT(2019, 1, 1, tzinfo=datetime.timezone.utc)
    assert validate_datetime_from_something(value) is value


@pytest.mark.parametrize(
    "value, error",
    [
        ("2019-13-01", ValueError),
        ("01/01/2019", ValueError),
        ("2019-01-01T10:11:12", ValueError),
        ("", ValueError),
        ("-5", ValueError),
        (None, TypeError),
        ([2019, 1, 1], TypeError),
    ],
)
def test_validate_date_and_datetime_from_something_errors(value, error):
    with pytest.raises(error, match="d: "):
        validate_date_from_something(value)
    with pytest.raises(error, match="d: "):
        validate_datetime_from_something(value)


def test_validate_date_and_datetime_from_something_out_of_range():
    # The error of datetime.fromtimestamp depends on the platform, as in 0.7.47.
    with pytest.raises((ValueError, OverflowError, OSError)):
        validate_datetime_from_something(10**20)


@pytest.mark.parametrize(
    "date_str, date_format",
    [
        ("2018/09/16", "%Y/%m/%d"),
        ("2018-09-16 10:00", "%Y-%m-%d %H:%M"),
        ("10:00", "%H:%M"),
    ],
)
def test_validate_string_matches_datetime_format(date_str, date_format):
    assert validate_string_matches_datetime_format(date_str, date_format) is None


@pytest.mark.parametrize(
    "date_str, date_format, field_name, error, match",
    [
        ("2018-09-16", "%Y/%m/%d", "date", ValueError, "date: '2018-09-16' does not match"),
        ("2018/09/31", "%Y/%m/%d", "st_date", ValueError, "st_date: "),
        ("", "%Y/%m/%d", "date", ValueError, "date: "),
        (None, "%Y/%m/%d", "en_date", TypeError, "en_date: "),
        (20180916, "%Y%m%d", "date", TypeError, "date: "),
    ],
)
def test_validate_string_matches_datetime_format_errors(date_str, date_format, field_name, error, match):
    with pytest.raises(error, match=match):
        validate_string_matches_datetime_format(date_str, date_format, field_name=field_name)


@pytest.mark.parametrize(
    "date_str, date_formats, expected",
    [
        ("2018/09/16", ["%Y-%m-%d", "%Y/%m/%d"], True),
        ("2018-09-16", ("%Y-%m-%d",), True),
        ("2018-09-16", "%Y-%m-%d", True),
        ("16.09.2018", ["%Y-%m-%d", "%Y/%m/%d"], False),
        ("2018-02-30", ["%Y-%m-%d"], False),
        ("2018-09-16", [], False),
        (None, ["%Y-%m-%d"], False),
        (D(2018, 9, 16), ["%Y-%m-%d"], False),
        ("2018", ["%Y", 5], True),
        ("2018", [5, None], False),
    ],
)
def test_is_valid_date(date_str, date_formats, expected):
    assert is_valid_date(date_str, date_formats) is expected


@pytest.mark.parametrize("date_formats", [None, 5])
def test_is_valid_date_errors(date_formats):
    with pytest.raises(TypeError, match="date_formats"):
        is_valid_date("2018", date_formats)


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"st_date": "2019-01-01", "en_date": "2019-01-31"}, (D(2019, 1, 1), D(2019, 1, 31))),
        ({"st_date": D(2019, 1, 1), "en_date": DT(2019, 1, 31, 23)}, (D(2019, 1, 1), D(2019, 1, 31))),
        ({"st_date": "2019-01-31", "en_date": "2019-01-31"}, (D(2019, 1, 31), D(2019, 1, 31))),
        ({"days_back": 7, "en_date": "2019-01-31"}, (D(2019, 1, 24), D(2019, 1, 31))),
        ({"days_back": "1", "en_date": "2019-01-01"}, (D(2018, 12, 31), D(2019, 1, 1))),
        ({"days_back": 0, "en_date": "2019-01-01"}, (D(2019, 1, 1), D(2019, 1, 1))),
        ({"days_back": 2, "st_date": None, "en_date": "2019-01-03"}, (D(2019, 1, 1), D(2019, 1, 3))),
        ({"days_back": 2, "st_date": "", "en_date": "2019-01-03"}, (D(2019, 1, 1), D(2019, 1, 3))),
        # As in 0.7.47: whole days of a number, and negative days go forward.
        ({"days_back": 1.5, "en_date": "2019-01-03"}, (D(2019, 1, 2), D(2019, 1, 3))),
        ({"days_back": -1, "en_date": "2019-01-03"}, (D(2019, 1, 4), D(2019, 1, 3))),
    ],
)
def test_construct_dates_from_event(event, expected):
    assert construct_dates_from_event(event) == expected


@pytest.mark.parametrize(
    "event, days",
    [
        ({"days_back": 7}, 7),
        ({"days_back": 0, "en_date": None}, 0),
    ],
)
def test_construct_dates_from_event_ends_today_by_default(event, days):
    result, todays = call_around_today(construct_dates_from_event, event)
    assert result in [(today - datetime.timedelta(days=days), today) for today in todays]


def test_construct_dates_from_event_with_st_date_only_ends_today():
    result, todays = call_around_today(construct_dates_from_event, {"st_date": "2019-01-01"})
    assert result in [(D(2019, 1, 1), today) for today in todays]


@pytest.mark.parametrize(
    "event, error, match",
    [
        ({}, ValueError, "either st_date or days_back"),
        ({"en_date": "2019-01-01"}, ValueError, "either st_date or days_back"),
        ({"st_date": "2019-01-01", "days_back": 1}, ValueError, "either st_date or days_back"),
        ({"st_date": "2019-02-01", "en_date": "2019-01-01"}, ValueError, "st_date: 2019-02-01 is after"),
        ({"st_date": "01.01.2019"}, ValueError, "st_date: "),
        ({"st_date": "2019-01-01", "en_date": "soon"}, ValueError, "en_date: "),
        ({"st_date": ["2019-01-01"]}, TypeError, "st_date: "),
        ({"days_back": "a week"}, ValueError, "days_back"),
        ({"days_back": [1]}, TypeError, "days_back"),
        (None, TypeError, "event"),
    ],
)
def test_construct_dates_from_event_errors(event, error, match):
    with pytest.raises(error, match=match):
        construct_dates_from_event(event)


# Recursive search

SRC = {
    "a": [
        {"id": 1, "b": "x", "c": {"d": 10}},
        {"id": 2, "b": "y", "c": {"d": 20}},
        {"id": 3, "b": "x", "c": [{"d": 30}, {"d": 40}]},
    ],
    "e": {"f": {"g": None, "h": [1, 2]}},
    "k": "v",
    "empty": [],
}


@pytest.mark.parametrize(
    "src, key, val, kwargs, expected",
    [
        (SRC, "a.b", "x", {}, True),
        (SRC, "a.b", "y", {}, True),
        (SRC, "a.b", "z", {}, False),
        (SRC, "a.c.d", 40, {}, True),
        (SRC, "a.c.d", 50, {}, False),
        (SRC, "e.f.g", None, {}, True),
        (SRC, "e.f.h", [1, 2], {}, True),
        (SRC, "e.f.h", 1, {}, False),
        (SRC, "k", "v", {}, True),
        (SRC, "k.v", "v", {}, False),
        (SRC, "a.missing", None, {}, False),
        (SRC, "missing.b", "x", {}, False),
        (SRC, "empty.b", "x", {}, False),
        (SRC, "a/b", "x", {"separator": "/"}, True),
        (SRC, "a.b", "x", {"separator": "/"}, False),
        (SRC["a"], "b", "y", {}, True),
        ({"a.b": 1}, "a.b", 1, {"separator": "/"}, True),
        # Excluding an element finds its duplicates only.
        (SRC, "a.b", "x", {"exclude_key": "id", "exclude_val": 1}, True),
        (SRC, "a.b", "y", {"exclude_key": "id", "exclude_val": 2}, False),
        (SRC, "a.b", "y", {"exclude_key": "id", "exclude_val": 1}, True),
        (SRC, "a.b", "y", {"exclude_key": "missing", "exclude_val": None}, True),
        ({"a": [{"b": 1, "x": None}]}, "a.b", 1, {"exclude_key": "x", "exclude_val": None}, False),
        # Soft: what cannot be searched does not match.
        (SRC, "", "x", {}, False),
        ("a.b", "a.b", "x", {}, False),
        (None, "a.b", "x", {}, False),
    ],
)
def test_recursive_matches_soft(src, key, val, kwargs, expected):
    assert recursive_matches_soft(src, key, val, **kwargs) is expected


@pytest.mark.parametrize(
    "src, key, kwargs, error, match",
    [
        (SRC, "a.b", {"exclude": 1}, TypeError, "exclude"),
        (SRC, "a.b", {"exclude_val": 1}, AttributeError, "exclude_key and exclude_val go together"),
        (SRC, "a.b", {"exclude_key": "id"}, AttributeError, "exclude_key and exclude_val go together"),
        (SRC, None, {}, TypeError, "key"),
        (SRC, "a.b", {"separator": ""}, ValueError, "separator"),
    ],
)
def test_recursive_matches_soft_errors(src, key, kwargs, error, match):
    with pytest.raises(error, match=match):
        recursive_matches_soft(src, key, "x", **kwargs)


@pytest.mark.parametrize(
    "src, key, val, kwargs, expected",
    [
        (SRC, "a.b", "x", {}, True),
        (SRC, "a.b", "z", {}, False),
        (SRC, "a.c.d", 30, {}, True),
        (SRC, "e.f.g", None, {}, True),
        (SRC, "e.f.h", [1, 2], {}, True),
        (SRC, "empty.b", "x", {}, False),
        (SRC, "a/id", 3, {"separator": "/"}, True),
        # The elements are searched in order, up to the first match.
        ({"a": [{"b": "x"}, {"c": "x"}]}, "a.b", "x", {}, True),
        # An excluded element need not have the path.
        ({"a": [{"id": 1}, {"id": 2, "b": "x"}]}, "a.b", "x", {"exclude_key": "id", "exclude_val": 1}, True),
        ({"a": [{"id": 1, "b": "x"}]}, "a.b", "x", {"exclude_key": "id", "exclude_val": 1}, False),
    ],
)
def test_recursive_matches_strict(src, key, val, kwargs, expected):
    assert recursive_matches_strict(src, key, val, **kwargs) is expected


@pytest.mark.parametrize(
    "src, key, kwargs, error, match",
    [
        (SRC, "missing", {}, KeyError, "'missing'"),
        (SRC, "a.missing", {}, KeyError, "'missing'"),
        # An element that lacks the path before any match.
        ({"a": [{"c": "x"}, {"b": "x"}]}, "a.b", {}, KeyError, "'b'"),
        (SRC, "k.v", {}, AttributeError, "'k.v'"),
        (SRC, "k.v", {}, TypeError, "'k.v'"),
        (SRC, "e.f.h.i", {}, AttributeError, "'e.f.h.i'"),
        (SRC, "a.b", {"exclude_key": "id"}, AttributeError, "exclude_val"),
        (SRC, "", {}, KeyError, "''"),
        (5, "a", {}, TypeError, "in a int"),
    ],
)
def test_recursive_matches_strict_errors(src, key, kwargs, error, match):
    with pytest.raises(error, match=match):
        recursive_matches_strict(src, key, "x", **kwargs)


@pytest.mark.parametrize(
    "src, key, separator, kwargs, expected",
    [
        (SRC, "a.b", None, {}, "x"),
        (SRC, "a.id", None, {}, 1),
        (SRC, "a.c.d", None, {}, 10),
        (SRC, "a.c", None, {}, {"d": 10}),
        (SRC, "e.f.h", None, {}, [1, 2]),
        (SRC, "k", None, {}, "v"),
        (SRC, "a.b", None, {"exclude_key": "id", "exclude_val": 1}, "y"),
        (SRC, "a.c.d", None, {"exclude_key": "d", "exclude_val": 10}, 20),
        (SRC, "a/b", "/", {}, "x"),
        (SRC, "a.missing", None, {}, None),
        (SRC, "k.v", None, {}, None),
        (SRC, "empty.x", None, {}, None),
        (SRC, "e.f.g", None, {}, None),
    ],
)
def test_recursive_matches_extract(src, key, separator, kwargs, expected):
    assert recursive_matches_extract(src, key, separator, **kwargs) == expected


@pytest.mark.parametrize(
    "src, key, separator, kwargs, error, match",
    [
        (SRC, "a.b", None, {"separator": "/"}, TypeError, "separator"),
        (SRC, "a.b", None, {"exclude_val": 1}, AttributeError, "exclude_key and exclude_val go together"),
        (SRC, "a.b", "", {}, ValueError, "separator"),
        (SRC, 1, None, {}, TypeError, "key"),
        ("abc", "a", None, {}, TypeError, "src"),
    ],
)
def test_recursive_matches_extract_errors(src, key, separator, kwargs, error, match):
    with pytest.raises(error, match=match):
        recursive_matches_extract(src, key, separator, **kwargs)


@pytest.mark.parametrize(
    "src, key, separator, soft, strict",
    [
        (SRC, "a.b", None, True, True),
        (SRC, "a.c.d", None, True, True),
        (SRC, "e.f.g", None, True, True),
        (SRC, "k", None, True, True),
        (SRC, "a.c.d.x", None, False, False),
        (SRC, "missing", None, False, False),
        (SRC, "empty.x", None, False, False),
        (SRC, "empty", None, True, True),
        (SRC, "a/c/d", "/", True, True),
        ({"a": [{"b": None}, {"c": 1}]}, "a.b", None, True, False),
        ({"a": [{"b": 1}, "b"]}, "a.b", None, True, False),
        ({"a": [{"b": 1}, []]}, "a.b", None, True, True),
        ([{"b": 1}, {"b": 2}], "b", None, True, True),
        (SRC, "", None, False, False),
    ],
)
def test_recursive_exists(src, key, separator, soft, strict):
    assert recursive_exists_soft(src, key, separator) is soft
    assert recursive_exists_strict(src, key, separator) is strict


@pytest.mark.parametrize(
    "src, key, separator, error",
    [
        (None, "a", None, TypeError),
        (SRC, None, None, TypeError),
        (SRC, "a", "", ValueError),
    ],
)
def test_recursive_exists_errors(src, key, separator, error):
    with pytest.raises(error):
        recursive_exists_soft(src, key, separator)
    with pytest.raises(error):
        recursive_exists_strict(src, key, separator)


# Dictionaries


@pytest.mark.parametrize(
    "data, separator, expected",
    [
        (
            {"a": "v1", "b__c": "v2", "b__d__e": "v3"},
            None,
            {"a": "v1", "b": {"c": "v2", "d": {"e": "v3"}}},
        ),
        ({"a.b": 1, "a.c": 2, "a__d": 3}, ".", {"a": {"b": 1, "c": 2}, "a__d": 3}),
        ({"a": {"x": 1}}, None, {"a": {"x": 1}}),
        ({1: "one", "a__b": [1]}, None, {1: "one", "a": {"b": [1]}}),
        ({}, None, {}),
        # Later keys are merged into earlier ones, a later value wins.
        ({"b__c": {"d": 1}, "b__c__e": 2}, None, {"b": {"c": {"d": 1, "e": 2}}}),
        ({"a__b": 2, "a": 1}, None, {"a": 1}),
        ({"a__b": 1, "a__b__c": 2}, None, {"a": {"b": {"c": 2}}}),
        ({"a__b": {"c__d": 1}}, None, {"a": {"b": {"c": {"d": 1}}}}),
    ],
)
def test_dunder_to_dict(data, separator, expected):
    assert dunder_to_dict(data, separator) == expected


def test_dunder_to_dict_does_not_change_the_values():
    value = {"x": 1}
    data = {"a": value}
    assert dunder_to_dict(data)["a"] is value
    assert dunder_to_dict({"a": value, "a__b": 2}) == {"a": {"x": 1, "b": 2}}
    assert value == {"x": 1}


@pytest.mark.parametrize(
    "data, separator, error, match",
    [
        ({"a": 1, "a__b": 2}, None, ValueError, "key 'a__b' nests under 'a'"),
        ({"a": 1, "a__b": 2}, None, TypeError, "key 'a__b' nests under 'a'"),
        ({"__a": 1}, None, ValueError, "key '__a' must use '__' only between levels"),
        ({"a__": 1}, None, ValueError, "key 'a__' must use"),
        ({"a": 1}, "", ValueError, "separator"),
        ([("a", 1)], None, TypeError, "data"),
    ],
)
def test_dunder_to_dict_errors(data, separator, error, match):
    with pytest.raises(error, match=match):
        dunder_to_dict(data, separator)


@pytest.mark.parametrize(
    "keys, value, expected",
    [
        (["a", "b", "c"], None, {"a": {"b": {"c": None}}}),
        (["a", "b", "c"], 42, {"a": {"b": {"c": 42}}}),
        (("a",), [1], {"a": [1]}),
        ([1, 2], "x", {1: {2: "x"}}),
        ([], 42, 42),
        ("ab", 1, {"a": {"b": 1}}),
    ],
)
def test_nested_dict_from_keys(keys, value, expected):
    assert nested_dict_from_keys(keys, value=value) == expected


@pytest.mark.parametrize("keys, error", [(None, TypeError), ([["a"]], AssertionError), ([{}], TypeError)])
def test_nested_dict_from_keys_errors(keys, error):
    with pytest.raises(error, match="keys"):
        nested_dict_from_keys(keys)


@pytest.mark.parametrize(
    "d, u, expected",
    [
        ({"a": {"b": 1, "l": [1]}}, {"a": {"c": 2, "l": [2]}}, {"a": {"b": 1, "l": [1, 2], "c": 2}}),
        ({"a": 1}, {"a": {"b": 2}}, {"a": {"b": 2}}),
        ({"a": {"b": 2}}, {"a": 1}, {"a": 1}),
        ({"l": (1, 2)}, {"l": {2, 3}}, {"l": [1, 2, 3]}),
        ({"l": [1]}, {"l": "x"}, {"l": "x"}),
        (None, {"a": 1}, {"a": 1}),
        ({"a": 1}, None, {"a": 1}),
    ],
)
def test_recursive_update(d, u, expected):
    assert recursive_update(d, u) == expected


def test_recursive_update_does_not_change_the_base():
    base = {"a": {"b": 1}, "l": [1]}
    recursive_update(base, {"a": {"c": 2}, "l": [2]})
    assert base == {"a": {"b": 1}, "l": [1]}


# Iterables


@pytest.mark.parametrize(
    "items, size, expected",
    [
        ([1, 2, 3, 4, 5], 2, [[1, 2], [3, 4], [5]]),
        ([1, 2], 5, [[1, 2]]),
        ([], 3, []),
        (iter(range(3)), 1, [[0], [1], [2]]),
        # Sequences are cut in slices of their own type, as in 0.7.47.
        ((1, 2, 3), 2, [(1, 2), (3,)]),
        ("abcde", 2, ["ab", "cd", "e"]),
        ({1}, 2, [[1]]),
    ],
)
def test_chunks(items, size, expected):
    assert list(chunks(items, size)) == expected


@pytest.mark.parametrize("size, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (None, TypeError)])
def test_chunks_errors(size, error):
    with pytest.raises(error, match="n: "):
        list(chunks([1], size))


@pytest.mark.parametrize(
    "items, condition, expected",
    [
        ([1, 2, 3], None, 1),
        ([1, 2, 3], lambda x: x > 1, 2),
        ([1, 2, 3], lambda x: x > 5, None),
        ([], None, None),
        (iter([None, 0, "a"]), lambda x: x is not None, 0),
    ],
)
def test_first_or_none(items, condition, expected):
    assert first_or_none(items, condition) == expected


# ARNs


@pytest.mark.parametrize(
    "arn, expected",
    [
        (ARN, "bar"),
        (f"{ARN}:$LATEST", "bar"),
        (f"{ARN}:prod", "bar"),
        ("bar", "bar"),
        ("bar:1", "bar"),
        ("arn:aws:sns:us-west-2:000000000000:topic", "topic"),
        ("arn:aws:iam::000000000000:role/my-role", "my-role"),
    ],
)
def test_trim_arn_to_name(arn, expected):
    assert trim_arn_to_name(arn) == expected


@pytest.mark.parametrize("arn", [None, 1])
def test_trim_arn_to_name_errors(arn):
    with pytest.raises(ValueError, match="arn"):
        trim_arn_to_name(arn)


@pytest.mark.parametrize(
    "arn, expected",
    [
        (ARN, "000000000000"),
        (f"{ARN}:$LATEST", "000000000000"),
        ("arn:aws:iam::123456789012:role/my-role", "123456789012"),
        ("arn:aws:s3:::bucket", ""),
    ],
)
def test_trim_arn_to_account(arn, expected):
    assert trim_arn_to_account(arn) == expected


@pytest.mark.parametrize(
    "arn, error",
    [
        ("bar", ValueError),
        ("bar:1", ValueError),
        ("arn:aws:lambda", ValueError),
        ("", ValueError),
        (None, TypeError),
    ],
)
def test_trim_arn_to_account_errors(arn, error):
    with pytest.raises(error, match="arn"):
        trim_arn_to_account(arn)


# Hashes and conversions


@pytest.mark.parametrize(
    "a, b",
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({1: "a", "b": 2, None: [3]}, {None: [3], "b": 2, 1: "a"}),
        ({"s": {1, "2", (3,)}}, {"s": {(3,), "2", 1}}),
        ([1, 2], (1, 2)),
        ({1, 2}, frozenset({2, 1})),
        (1, 1.0),
        (1, True),
        ({"a": [1, {"b": {"c"}}]}, {"a": (1.0, {"b": {"c"}})}),
        (D(2019, 1, 1), D(2019, 1, 1)),
    ],
)
def test_make_hash_equal(a, b):
    assert make_hash(a) == make_hash(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ([1, 2], [2, 1]),
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"b": 1}),
        ([1, 2], {1, 2}),
        ({"a": 1}, [("a", 1)]),
        ("1", 1),
        (b"a", "a"),
        (None, 0),
        (1.5, 1),
        ([[1], [2]], [[1, 2]]),
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}),
    ],
)
def test_make_hash_different(a, b):
    assert make_hash(a) != make_hash(b)


def test_make_hash_is_the_same_in_another_process():
    value = {"a": [1, 2.5, "x", None, b"y", {"z"}], 3: {"t": True}}
    code = f"from sosw.components.helpers import make_hash; print(make_hash({value!r}))"
    assert int(run_in_another_process(code)) == make_hash(value)
    assert 0 <= make_hash(value) < 2**64


@pytest.mark.parametrize("value", [{"a": bytearray(b"x")}, [{"a": [bytearray()]}]])
def test_make_hash_errors(value):
    with pytest.raises(TypeError, match="unhashable type bytearray"):
        make_hash(value)


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, True),
        (1, True),
        ("true", True),
        (" TRUE ", True),
        ("Yes", True),
        ("y", True),
        ("1", True),
        ("on", True),
        (False, False),
        (0, False),
        (None, False),
        ("", False),
        ("  ", False),
        ("False", False),
        ("no", False),
        ("N", False),
        ("0", False),
        ("off", False),
        (2, True),
        (-1, True),
        (1.0, True),
        (0.0, False),
    ],
)
def test_to_bool(value, expected):
    assert to_bool(value) is expected


@pytest.mark.parametrize("value", ["maybe", "2", [], {}, "truthy"])
def test_to_bool_errors(value):
    with pytest.raises(ValueError, match=re.escape(f"val: cannot convert {value!r}")):
        to_bool(value)


@pytest.mark.parametrize("value, num_digits", [("some_task_id", 3), ("", 2), ("x", 1), ("ключ", 7), ("a" * 10_000, 30)])
def test_small_int_from_string(value, num_digits):
    result = small_int_from_string(value, num_digits)
    assert 0 <= result < 10**num_digits
    assert small_int_from_string(value, num_digits) == result


def test_small_int_from_string_with_more_digits_than_md5_has():
    # 10 ** 10 ** 9 would take forever; the digest has 39 digits at most, so the result is the digest.
    assert small_int_from_string("hello world", 10**9) == small_int_from_string("hello world", 39)


def test_small_int_from_string_is_the_md5_of_0_7_47():
    assert small_int_from_string("hello world") == 91
    assert small_int_from_string("hello world", num_digits=3) == 291
    digest = 0x5EB63BBBE01EEED093CB22BB8F5ACDC3  # md5 of 'hello world'
    assert small_int_from_string("hello world", 60) == digest


def test_small_int_from_string_spreads_and_is_the_same_in_another_process():
    values = [f"task_{i}" for i in range(200)]
    results = [small_int_from_string(value, 1) for value in values]
    assert set(results) == set(range(10))
    code = f"from sosw.components.helpers import small_int_from_string as f; print([f(v, 1) for v in {values!r}])"
    assert json.loads(run_in_another_process(code)) == results


@pytest.mark.parametrize(
    "value, num_digits, error, match",
    [
        (None, 2, TypeError, "input_string"),
        (12, 2, AttributeError, "input_string"),
        ("x", 0, ValueError, "num_digits"),
        ("x", -5, ValueError, "num_digits"),
        ("x", 2.0, ValueError, "num_digits"),
        ("x", "2", TypeError, "num_digits"),
    ],
)
def test_small_int_from_string_errors(value, num_digits, error, match):
    with pytest.raises(error, match=match):
        small_int_from_string(value, num_digits)


# SNS and SQS events


@pytest.mark.parametrize(
    "event, from_sns, from_sqs",
    [
        (sns_event("{}"), True, False),
        (sns_event("{}", "{}"), True, False),
        (sqs_event("{}"), False, True),
        (sqs_event("{}", "{}"), False, True),
        # The first record tells, as in 0.7.47.
        ({"Records": sns_event("{}")["Records"] + sqs_event("{}")["Records"]}, True, False),
        ({"Records": [{"Sns": {"Message": "{}"}}]}, True, False),
        ({"Records": [{"Sns": {"Message": ""}}]}, False, False),
        # A bare SNS notification, as SQS gets it without raw message delivery.
        ({"Message": "{}", "TopicArn": "arn:aws:sns:us-west-2:000000000000:topic"}, True, False),
        ({"Message": "{}", "TopicArn": "arn:aws:sqs:us-west-2:000000000000:queue"}, False, False),
        ({"Message": "{}"}, False, False),
        ({"Records": [{"eventSource": "aws:s3"}]}, False, False),
        ({"Records": [{"EventSource": "aws:sqs"}]}, False, False),
        ({"Records": [{"eventSource": "aws:sns"}]}, False, False),
        ({"Records": []}, False, False),
        ({"Records": "aws:sns"}, False, False),
        ({"Records": ["aws:sns"]}, False, False),
        ({"foo": "bar"}, False, False),
        (None, False, False),
        ("aws:sns", False, False),
    ],
)
def test_is_event_from_sns_or_sqs(event, from_sns, from_sqs):
    assert is_event_from_sns(event) is from_sns
    assert is_event_from_sqs(event) is from_sqs


@pytest.mark.parametrize(
    "event, expected",
    [
        (sns_event('{"a": 1}'), {"a": 1}),
        (sns_event("{}"), {}),
        ({"Message": '{"a": 1}', "TopicArn": "arn:aws:sns:us-west-2:000000000000:topic"}, {"a": 1}),
        (sns_event("[1]"), [1]),
        (sns_event({"a": 1}), {"a": 1}),
    ],
)
def test_get_message_dict_from_sns_event(event, expected):
    assert get_message_dict_from_sns_event(event) == expected


@pytest.mark.parametrize(
    "event, match",
    [
        (sqs_event('{"a": 1}'), "event: not from SNS"),
        ({"a": 1}, "event: not from SNS"),
        (None, "event: not from SNS"),
        ({"Records": [{"EventSource": "aws:sns", "Sns": {}}]}, "event: not from SNS"),
        (sns_event("not json"), r"event.Records\[0\].Sns.Message: Expecting value"),
        (sns_event("{}", "{}"), "event.Records: an SNS event has one record, got 2"),
    ],
)
def test_get_message_dict_from_sns_event_errors(event, match):
    with pytest.raises(ValueError, match=match):
        get_message_dict_from_sns_event(event)


@pytest.mark.parametrize(
    "event, expected",
    [
        (sqs_event('{"a": 1}'), [{"a": 1}]),
        (sqs_event('{"a": 1}', '{"b": 2}', "{}"), [{"a": 1}, {"b": 2}, {}]),
    ],
)
def test_get_message_dict_from_sqs_event(event, expected):
    assert get_message_dict_from_sqs_event(event) == expected


@pytest.mark.parametrize(
    "event, match",
    [
        (sns_event('{"a": 1}'), "event: not from SQS"),
        ({"body": '{"a": 1}'}, "event: not from SQS"),
        (sqs_event('{"a": 1}', "oops"), r"event.Records\[1\].body: Expecting value"),
    ],
)
def test_get_message_dict_from_sqs_event_errors(event, match):
    with pytest.raises(ValueError, match=match):
        get_message_dict_from_sqs_event(event)


PAYLOAD = {"task": {"labourer_id": "worker", "cursor": 7}}
OTHER = {"other": True}


@pytest.mark.parametrize(
    "event, expected",
    [
        # Not wrapped at all, even if it looks a bit like an event.
        (PAYLOAD, [PAYLOAD]),
        ({"Records": [{"eventSource": "aws:s3", "s3": {}}]}, [{"Records": [{"eventSource": "aws:s3", "s3": {}}]}]),
        ({"Type": "Notification", "Message": "{}"}, [{"Type": "Notification", "Message": "{}"}]),
        ({}, [{}]),
        (None, [None]),
        (json.dumps(PAYLOAD), [json.dumps(PAYLOAD)]),
        # One level.
        (sns_event(json.dumps(PAYLOAD)), [PAYLOAD]),
        (sqs_event(json.dumps(PAYLOAD)), [PAYLOAD]),
        (json.loads(sns_notification(json.dumps(PAYLOAD))), [PAYLOAD]),
        # Messages that are not objects are messages too.
        (sqs_event("[1, 2]"), [[1, 2]]),
        (sqs_event(json.dumps(json.dumps(PAYLOAD))), [json.dumps(PAYLOAD)]),
        # SNS-in-SQS: the SQS body is the SNS notification.
        (sqs_event(sns_notification(json.dumps(PAYLOAD))), [PAYLOAD]),
        # SQS-in-SNS: the SNS message is a whole SQS event.
        (sns_event(json.dumps(sqs_event(json.dumps(PAYLOAD)))), [PAYLOAD]),
        # Three levels.
        (sns_event(json.dumps(sqs_event(sns_notification(json.dumps(PAYLOAD))))), [PAYLOAD]),
        # Several records give several messages, in order, whatever the level that has them.
        (sqs_event(json.dumps(PAYLOAD), sns_notification(json.dumps(OTHER))), [PAYLOAD, OTHER]),
        (sns_event(json.dumps(sqs_event(json.dumps(PAYLOAD), json.dumps(OTHER)))), [PAYLOAD, OTHER]),
        (
            sqs_event(json.dumps(sqs_event(json.dumps(PAYLOAD), json.dumps(OTHER))), json.dumps(PAYLOAD)),
            [PAYLOAD, OTHER, PAYLOAD],
        ),
    ],
)
def test_unwrap_event_recursively(event, expected):
    assert unwrap_event_recursively(event) == expected


def test_unwrap_event_recursively_from_the_given_sources_only():
    event = sqs_event(sns_notification(json.dumps(PAYLOAD)))
    assert unwrap_event_recursively(event, sources=["SQS"]) == [json.loads(sns_notification(json.dumps(PAYLOAD)))]
    assert unwrap_event_recursively(event, sources=["sns"]) == [event]
    with pytest.raises(KeyError, match="sources: unknown source 'kinesis'"):
        unwrap_event_recursively(event, sources=["kinesis"])


@pytest.mark.parametrize(
    "event, error, match",
    [
        (sqs_event("not json"), ValueError, r"event.Records\[0\].body: Expecting value"),
        (sqs_event(sns_notification("plain text")), ValueError, r"event.Message: Expecting value"),
        (sns_event("{}", "{}"), ValueError, "event.Records: an SNS event has one record"),
        ({"Records": [{"eventSource": "aws:sqs"}]}, KeyError, "body"),
    ],
)
def test_unwrap_event_recursively_errors(event, error, match):
    with pytest.raises(error, match=match):
        unwrap_event_recursively(event)
