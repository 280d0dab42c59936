"""COMPAT.md "components.helpers": the helpers as code and tests written for sosw 0.7.47 call them."""

import datetime
import json
from unittest.mock import patch

import pytest

from sosw.components import helpers
from sosw.components.helpers import (
    chunks,
    construct_dates_from_event,
    convert_string_to_words,
    dunder_to_dict,
    get_list_of_multiple_or_one_or_empty_from_dict,
    get_message_dict_from_sns_event,
    get_one_from_dict,
    get_one_or_none_from_dict,
    is_event_from_sns,
    nested_dict_from_keys,
    recursive_matches_extract,
    recursive_matches_soft,
    recursive_matches_strict,
    rstrip_all,
    small_int_from_string,
    to_bool,
    trim_arn_to_account,
    trim_arn_to_name,
    unwrap_event_recursively,
    validate_account_to_dashed,
    validate_date_from_something,
    validate_date_list_from_event_or_days_back,
    validate_datetime_from_something,
    validate_list_of_numbers_from_csv,
    validate_string_matches_datetime_format,
    validate_uuid4,
)

TOPIC_ARN = "arn:aws:sns:us-west-2:123456789012:my_topic"
PAYLOAD = {"job": {"lambda_name": "worker", "period": "last_2_days"}}


def sns_event(*messages):
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"TopicArn": TOPIC_ARN, "Message": m}} for m in messages]}


def sqs_event(*bodies):
    return {"Records": [{"eventSource": "aws:sqs", "body": body} for body in bodies]}


def notification(message):
    """An SNS notification as SQS receives it from a subscription without raw message delivery."""
    return {"Type": "Notification", "MessageId": "1", "TopicArn": TOPIC_ARN, "Message": message}


def test_unwrap_event_recursively_always_returns_a_list():
    assert unwrap_event_recursively(PAYLOAD) == [PAYLOAD]
    assert unwrap_event_recursively(sns_event(json.dumps(PAYLOAD))) == [PAYLOAD]
    assert unwrap_event_recursively(sqs_event(json.dumps(notification(json.dumps(PAYLOAD))))) == [PAYLOAD]
    assert unwrap_event_recursively(sqs_event(json.dumps(PAYLOAD), json.dumps({"b": 2}))) == [PAYLOAD, {"b": 2}]


def test_unwrap_event_recursively_takes_sources():
    event = sqs_event(json.dumps(notification(json.dumps(PAYLOAD))))

    assert unwrap_event_recursively(event, sources=["sqs"]) == [notification(json.dumps(PAYLOAD))]
    assert unwrap_event_recursively(event, sources=["SNS"]) == [event]
    assert unwrap_event_recursively(event, sources=["sns", "sqs"]) == [PAYLOAD]


def test_bare_sns_notification_is_recognised_by_is_event_from_sns():
    assert is_event_from_sns(notification(json.dumps(PAYLOAD))) is True
    assert is_event_from_sns({"Message": "{}", "TopicArn": "arn:aws:sqs:us-west-2:123456789012:queue"}) is False


def test_bare_sns_notification_is_read_by_get_message_dict_from_sns_event():
    assert get_message_dict_from_sns_event(notification(json.dumps(PAYLOAD))) == PAYLOAD
    # A minimal event of the kind users build in their tests: no EventSource.
    assert get_message_dict_from_sns_event({"Records": [{"Sns": {"Message": '{"a": 1}'}}]}) == {"a": 1}


def test_get_message_dict_from_sns_event_raises_value_error_for_more_than_one_record():
    with pytest.raises(ValueError, match="one record"):
        get_message_dict_from_sns_event(sns_event('{"a": 1}', '{"b": 2}'))


def test_unwrap_checker_and_extractor_methods_are_module_attributes_looked_up_at_call_time():
    assert helpers.unwrap_checker_methods["sns"] is helpers.is_event_from_sns
    assert helpers.unwrap_checker_methods["sqs"] is helpers.is_event_from_sqs
    assert set(helpers.unwrap_extractor_methods) == {"sns", "sqs"}

    def is_from_box(event):
        return isinstance(event, dict) and "box" in event

    with (
        patch.dict(helpers.unwrap_checker_methods, {"box": is_from_box}),
        patch.dict(helpers.unwrap_extractor_methods, {"box": lambda event: event["box"]}),
    ):
        assert unwrap_event_recursively({"box": [PAYLOAD, {"box": {"b": 2}}]}, sources=["box"]) == [PAYLOAD, {"b": 2}]


# Values of 0.7.47's algorithm (MD5 of the text, modulo 10 ** num_digits), computed with it: they are persisted as keys.
@pytest.mark.parametrize(
    "input_string, num_digits, expected",
    [
        ("hello world", 2, 91),
        ("hello world", 3, 291),
        ("", 2, 66),
        ("task_0", 1, 1),
        ("x", 1, 8),
        ("some_task_id", 4, 2766),
        ("ключ", 2, 11),
        ("a" * 1000, 6, 553448),
        ("labourer_1:2024-01-01", 2, 10),
        ("hello world", 39, 125893641179230474042701625388361764291),
    ],
)
def test_small_int_from_string_returns_the_original_values(input_string, num_digits, expected):
    assert small_int_from_string(input_string=input_string, num_digits=num_digits) == expected


def test_small_int_from_string_has_two_digits_by_default():
    assert small_int_from_string("hello world") == 91


def test_chunks_takes_the_original_parameter_names():
    assert list(chunks(l=[1, 2, 3, 4, 5], n=2)) == [[1, 2], [3, 4], [5]]
    assert list(chunks("abcde", 2)) == ["ab", "cd", "e"]


def test_to_bool_accepts_numbers_by_truthiness():
    assert [to_bool(val=v) for v in (2, -1, 0.5, 1, True)] == [True] * 5
    assert [to_bool(val=v) for v in (0, 0.0, False)] == [False] * 3
    assert to_bool("TRUE") is True and to_bool("0") is False


def test_recursive_matches_strict_takes_exclude_key_and_exclude_val():
    src = {"rows": [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}, {"id": 3, "name": "x"}]}

    assert recursive_matches_strict(src, "rows.name", "x", exclude_key="id", exclude_val=1) is True  # a duplicate
    assert recursive_matches_strict(src, "rows.name", "y", exclude_key="id", exclude_val=2) is False


@pytest.mark.parametrize("kwargs", [{"exclude_key": "id"}, {"exclude_val": 1}])
@pytest.mark.parametrize(
    "call",
    [
        lambda src, **kw: recursive_matches_soft(src, "rows.name", "x", **kw),
        lambda src, **kw: recursive_matches_strict(src, "rows.name", "x", **kw),
        lambda src, **kw: recursive_matches_extract(src, "rows.name", **kw),
    ],
    ids=["soft", "strict", "extract"],
)
def test_recursive_matches_with_only_one_exclude_argument_raise_attribute_error(call, kwargs):
    with pytest.raises(AttributeError):
        call({"rows": [{"id": 1, "name": "x"}]}, **kwargs)


def test_trim_arn_to_account_accepts_a_bare_account_id():
    assert trim_arn_to_account("123456789012") == "123456789012"
    assert trim_arn_to_account("arn:aws:lambda:us-west-2:123456789012:function:worker") == "123456789012"


def test_validate_list_of_numbers_from_csv_of_a_number_is_a_list_of_it():
    assert validate_list_of_numbers_from_csv(123) == [123]


def test_validate_date_from_something_accepts_microseconds():
    assert validate_date_from_something("2024-02-29 10:11:12.123456") == datetime.date(2024, 2, 29)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1000", datetime.datetime(1970, 1, 1, 0, 16, 40)),
        ("1000.1", datetime.datetime(1970, 1, 1, 0, 16, 40, 100000)),
        ("1704067200", datetime.datetime(2024, 1, 1)),
    ],
)
def test_validate_datetime_from_something_accepts_epoch_text(text, expected):
    assert validate_datetime_from_something(text) == expected


def test_convert_string_to_words_lower_cases():
    assert convert_string_to_words("  Hello  World\tAgain ") == "hello,world,again"


def test_dunder_to_dict_merges_into_an_existing_key():
    data = {"a": 1, "b__c": {"d": 2}, "b__c__e": 3}
    assert dunder_to_dict(data) == {"a": 1, "b": {"c": {"d": 2, "e": 3}}}


@pytest.mark.parametrize("key", ["__data", "data__"])
def test_dunder_to_dict_refuses_keys_with_the_separator_on_a_side(key):
    with pytest.raises(ValueError, match=key):
        dunder_to_dict({key: 1})


# Each call raised the type on the right in 0.7.47; code catching it must still catch ours.
@pytest.mark.parametrize(
    "call, original_type",
    [
        (lambda: get_one_from_dict({"a": 1}, 5), ValueError),
        (lambda: get_one_or_none_from_dict({"a": 1}, None), ValueError),
        (lambda: get_one_or_none_from_dict({"a": 1}, "a", vtype=5), TypeError),
        (lambda: get_list_of_multiple_or_one_or_empty_from_dict({"a": 1}, None), ValueError),
        (lambda: get_list_of_multiple_or_one_or_empty_from_dict({"as": 1}, "as", vtype=5), TypeError),
        (lambda: validate_date_from_something(None), ValueError),
        (lambda: validate_date_from_something([2024, 1, 1]), ValueError),
        (lambda: validate_datetime_from_something({"date": "2024-01-01"}), ValueError),
        (lambda: construct_dates_from_event({}), AttributeError),
        (lambda: construct_dates_from_event({"st_date": "2024-01-01", "days_back": 2}), AttributeError),
        (lambda: construct_dates_from_event({"st_date": "2024-02-01", "en_date": "2024-01-01"}), AssertionError),
        (lambda: construct_dates_from_event(None), AttributeError),
        (lambda: validate_account_to_dashed(None), ValueError),
        (lambda: validate_account_to_dashed(1234567890.0), ValueError),
        (lambda: validate_uuid4(42), AttributeError),
        (lambda: rstrip_all(None, "_a"), AttributeError),
        (lambda: validate_string_matches_datetime_format(None, "%Y"), ValueError),
        (lambda: validate_string_matches_datetime_format("2024", None), ValueError),
        (lambda: validate_date_list_from_event_or_days_back(None), AttributeError),
        (lambda: validate_date_list_from_event_or_days_back({"date_list": 20240101}), ValueError),
        (lambda: validate_date_list_from_event_or_days_back({}, days_back="x"), TypeError),
        (lambda: recursive_matches_soft({"a": 1}, None, 1), AttributeError),
        (lambda: recursive_matches_strict({"a": 1}, "a.b", 1), TypeError),
        (lambda: recursive_matches_extract("text", "a"), AttributeError),
        (lambda: nested_dict_from_keys([["a"]]), AssertionError),
        (lambda: dunder_to_dict({"a": 1}, separator=5), TypeError),
        (lambda: dunder_to_dict({"a": 1, "a__b": 2}), TypeError),
        (lambda: trim_arn_to_name(None), AttributeError),
        (lambda: trim_arn_to_account("worker"), AttributeError),
        (lambda: small_int_from_string("x", num_digits=0), ValueError),
        (lambda: small_int_from_string("x", num_digits="2"), ValueError),
        (lambda: small_int_from_string(None), AttributeError),
    ],
)
def test_validation_errors_keep_the_original_exception_types(call, original_type):
    with pytest.raises(original_type):
        call()
