"""Every chunking flag of a Scheduler job, each with an example job and the task payloads it yields."""

import datetime
from unittest import mock

import sosw.app
from sosw.exceptions import InvalidJob
from sosw.scheduler import Scheduler


class OfflineScheduler(Scheduler):
    """The real Scheduler's chunking, without AWS clients and with "today" pinned to Monday 2026-11-23."""

    DEFAULT_CONFIG = {**Scheduler.DEFAULT_CONFIG, "init_clients": []}

    def today_date(self):
        return datetime.date(2026, 11, 23)


def chunk(job, chunkable_attrs=("topic", "word")):
    """The task payloads the Scheduler makes of ``job`` with this job schema."""
    with mock.patch.object(sosw.app, "get_config", return_value={}):
        scheduler = OfflineScheduler(custom_config={"job_schema": {"chunkable_attrs": list(chunkable_attrs)}})
    return scheduler.construct_job_data({"lambda_name": "my_worker", **job})


# Nothing to chunk: exactly one task with the whole job (control keys such as lambda_name are left out).
assert chunk({"words": ["a", "b", "c"], "lang": "en"}) == [{"words": ["a", "b", "c"], "lang": "en"}]

# isolate_<attr>s: one task per value.
assert chunk({"words": ["a", "b", "c"], "isolate_words": True}) == [
    {"words": ["a"]}, {"words": ["b"]}, {"words": ["c"]}]

# max_<attr>s_per_batch: values in batches of N (the last one may be shorter).
assert chunk({"words": ["a", "b", "c", "d", "e"], "max_words_per_batch": 2}) == [
    {"words": ["a", "b"]}, {"words": ["c", "d"]}, {"words": ["e"]}]

# isolate wins over max_..._per_batch.
assert chunk({"words": ["a", "b"], "isolate_words": True, "max_words_per_batch": 5}) == [
    {"words": ["a"]}, {"words": ["b"]}]

# A single value under the singular key is a list of one; a dict whose values are all None is the list of its keys.
assert chunk({"word": "a", "isolate_words": True}) == [{"words": ["a"]}]
assert chunk({"words": {"a": None, "b": None}, "isolate_words": True}) == [{"words": ["a"]}, {"words": ["b"]}]

# A dict of nested payloads descends to the next chunkable attribute; a flag set at the root applies below.
topics = {"cars": {"words": ["toyota", "mazda"]}, "food": {"words": ["recipe"]}}
assert chunk({"topics": topics, "isolate_words": True}) == [
    {"topics": ["cars"], "words": ["toyota"]},
    {"topics": ["cars"], "words": ["mazda"]},
    {"topics": ["food"], "words": ["recipe"]},
]

# isolate_topics alone: one task per topic, its words together.
assert chunk({"topics": topics, "isolate_topics": True}) == [
    {"topics": ["cars"], "words": ["toyota", "mazda"]},
    {"topics": ["food"], "words": ["recipe"]},
]

# A nested payload may set its own flag: only the words of "cars" are isolated.
nested = {"cars": {"words": ["toyota", "mazda"], "isolate_words": True}, "food": {"words": ["recipe", "meal"]}}
assert chunk({"topics": nested}) == [
    {"topics": ["cars"], "words": ["toyota"]},
    {"topics": ["cars"], "words": ["mazda"]},
    {"topics": ["food"], "words": ["recipe", "meal"]},
]

# Dates: period becomes date_list; isolate_days makes a task per date, max_days_per_batch batches them.
assert chunk({"period": "last_3_days", "isolate_days": True}) == [
    {"date_list": ["2026-11-20"]}, {"date_list": ["2026-11-21"]}, {"date_list": ["2026-11-22"]}]
assert chunk({"date_list": ["2026-01-01", "2026-01-02", "2026-01-03"], "max_days_per_batch": 2}) == [
    {"date_list": ["2026-01-01", "2026-01-02"]}, {"date_list": ["2026-01-03"]}]

# Dates and attributes multiply: 2 words x 2 days = 4 tasks.
assert len(chunk({"words": ["a", "b"], "isolate_words": True, "period": "last_2_days", "isolate_days": True})) == 4

# Mistakes raise InvalidJob naming the field, before anything is written.
for bad_job, field in [
    ({"words": ["a", ["b"]], "isolate_words": True}, "words"),  # a value of an unsupported type
    ({"words": ["a"], "isolate_words": "maybe"}, "isolate_words"),  # a flag must read as true or false
    ({"words": ["a"], "max_words_per_batch": 0}, "max_words_per_batch"),  # a batch size must be positive
    ({"colors": ["red"], "isolate_colors": True}, "isolate_colors"),  # not a chunkable attribute
    ({"period": "fortnight"}, "period"),  # unknown period
]:
    try:
        chunk(bad_job)
    except InvalidJob as err:
        assert err.field == field, (err.field, field)
        print(f"InvalidJob: {err}")
    else:
        raise AssertionError(f"{bad_job} was accepted")
