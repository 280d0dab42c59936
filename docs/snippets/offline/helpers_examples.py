"""A tour of ``sosw.components.helpers``: standard library only, usable in any Lambda."""

import datetime

from sosw.components import helpers as h

# Dictionaries and lists.
assert h.recursive_update({"a": {"b": 1, "l": [1]}}, {"a": {"c": 2, "l": [2]}}) == {"a": {"b": 1, "l": [1, 2], "c": 2}}
assert list(h.chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
assert h.dunder_to_dict({"a": "v1", "b__c": "v2", "b__d__e": "v3"}) == {"a": "v1", "b": {"c": "v2", "d": {"e": "v3"}}}
assert h.nested_dict_from_keys(["a", "b", "c"], value=42) == {"a": {"b": {"c": 42}}}
assert h.first_or_none([1, 5, 8], lambda x: x > 4) == 5
assert h.make_hash({"a": [1, {2, 3}]}) == h.make_hash({"a": (1, {3, 2})})  # stable across processes too

# Nested lookups with dot notation.
event = {"records": [{"body": {"name": "x"}}, {"body": {"name": "y"}}]}
assert h.recursive_matches_soft(event, "records.body.name", "y") is True
assert h.recursive_matches_extract(event, "records.body.name") == "x"
assert h.recursive_exists_strict(event, "records.body") is True

# Reading Lambda events.
assert h.get_one_from_dict({"ids": [7]}, "id", vtype=int) == 7  # singular or plural name, exactly one value
assert h.get_one_or_none_from_dict({}, "id") is None
assert h.get_list_of_multiple_or_one_or_empty_from_dict({"id": "7"}, "ids", vtype=int) == [7]
assert h.validate_list_of_numbers_from_csv("3, 1, x, 3") == [1, 3]
assert h.validate_list_of_words_from_csv_or_list("a, b,c") == ["a", "b", "c"]
assert h.to_bool("yes") is True and h.to_bool("off") is False

# Dates.
assert h.validate_date_from_something("2026-11-23 10:00:00") == datetime.date(2026, 11, 23)
assert h.validate_datetime_from_something(0) == datetime.datetime(1970, 1, 1)
assert h.validate_date_list_from_event_or_days_back({"date_list": "2026-11-22, 2026-11-23"}) == [
    datetime.date(2026, 11, 22), datetime.date(2026, 11, 23)]
assert h.is_valid_date("2026/11/23", ["%Y-%m-%d", "%Y/%m/%d"]) is True

# Names and ARNs.
assert h.camel_case_to_underscore("DynamoDbClient") == "dynamo_db_client"
assert h.trim_arn_to_name("arn:aws:lambda:us-west-2:000000000000:function:my_worker:prod") == "my_worker"
assert h.trim_arn_to_account("arn:aws:lambda:us-west-2:000000000000:function:my_worker") == "000000000000"
assert h.rstrip_all("data_copy_tmp", ["_tmp", "_copy"]) == "data"
assert h.validate_account_to_dashed("1234567890") == "123-456-7890"

# Messages that arrived through SNS or SQS.
sns_event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": '{"job": 1}'}}]}
assert h.is_event_from_sns(sns_event) and h.get_message_dict_from_sns_event(sns_event) == {"job": 1}
print("helpers ok")
