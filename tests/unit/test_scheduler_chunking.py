"""Scheduler chunking, table-driven: no AWS (the Scheduler is built without clients and without config rows)."""

import json

import pytest

import sosw.app
from sosw.exceptions import ConfigError, InvalidJob
from sosw.scheduler import Scheduler
from sosw.scheduling.jobs import labourer_name
from sosw.scheduling.queue_file import name_from_key
from tests.conftest import load_event


class OfflineScheduler(Scheduler):
    """The Scheduler's pure logic: no AWS clients."""

    DEFAULT_CONFIG = {**Scheduler.DEFAULT_CONFIG, "init_clients": []}

    def get_config(self, name):
        return {}  # no config rows: the test gives its config


@pytest.fixture(autouse=True)
def no_lambda_context(monkeypatch):
    monkeypatch.setattr(sosw.app.global_vars, "lambda_context", None)


def make(*attrs, **config):
    return OfflineScheduler(custom_config={"job_schema": {"chunkable_attrs": list(attrs)}, **config})


TUTORIAL_TOPICS = {
    "cars": {"words": ["toyota", "mazda"]},
    "food": {"words": ["recipe"]},
}

# (id, chunkable_attrs, job, expected payloads in order)
CHUNKING_CASES = [
    ("nothing to chunk: the whole job, control keys dropped", ["word"],
     {"lambda_name": "w", "labourer_id": "w", "a": 1, "words": ["x", "y"]},
     [{"a": 1, "words": ["x", "y"]}]),
    ("no chunkable attrs at all", [],
     {"lambda_name": "w", "a": {"b": [1, 2]}},
     [{"a": {"b": [1, 2]}}]),
    ("isolate at 1 level", ["word"],
     {"words": ["x", "y", "z"], "isolate_words": True, "a": 1},
     [{"a": 1, "words": ["x"]}, {"a": 1, "words": ["y"]}, {"a": 1, "words": ["z"]}]),
    ("max per batch", ["word"],
     {"words": ["a", "b", "c", "d", "e"], "max_words_per_batch": 2},
     [{"words": ["a", "b"]}, {"words": ["c", "d"]}, {"words": ["e"]}]),
    ("max per batch larger than the list: one batch", ["word"],
     {"words": ["a", "b"], "max_words_per_batch": 10},
     [{"words": ["a", "b"]}]),
    ("isolate wins over max per batch", ["word"],
     {"words": ["a", "b"], "max_words_per_batch": 10, "isolate_words": True},
     [{"words": ["a"]}, {"words": ["b"]}]),
    ("numbers are values too", ["id"],
     {"ids": [1, 2.5], "isolate_ids": True},
     [{"ids": [1]}, {"ids": [2.5]}]),
    ("isolate at 2 levels: flag at the root applies below", ["topic", "word"],
     {"topics": TUTORIAL_TOPICS, "isolate_words": True},
     [{"topics": ["cars"], "words": ["toyota"]}, {"topics": ["cars"], "words": ["mazda"]},
      {"topics": ["food"], "words": ["recipe"]}]),
    ("isolate the outer level only: nested payloads are lifted", ["topic", "word"],
     {"topics": TUTORIAL_TOPICS, "isolate_topics": True, "a": 1},
     [{"a": 1, "topics": ["cars"], "words": ["toyota", "mazda"]}, {"a": 1, "topics": ["food"], "words": ["recipe"]}]),
    ("max per batch at the root applies below", ["topic", "word"],
     {"topics": {"cars": {"words": ["a", "b", "c"]}, "food": {"words": ["d"]}}, "max_words_per_batch": 2},
     [{"topics": ["cars"], "words": ["a", "b"]}, {"topics": ["cars"], "words": ["c"]},
      {"topics": ["food"], "words": ["d"]}]),
    ("a nested payload overrides a root flag", ["topic", "word"],
     {"topics": {"cars": {"words": ["a", "b"]}, "food": {"words": ["c", "d"], "isolate_words": False}},
      "isolate_words": True},
     [{"topics": ["cars"], "words": ["a"]}, {"topics": ["cars"], "words": ["b"]},
      {"topics": ["food"], "words": ["c", "d"]}]),
    ("a flag only inside one nested payload", ["topic", "word"],
     {"topics": {"cars": {"words": ["a", "b"], "isolate_words": True}, "food": {"words": ["c", "d"]}}},
     [{"topics": ["cars"], "words": ["a"]}, {"topics": ["cars"], "words": ["b"]},
      {"topics": ["food"], "words": ["c", "d"]}]),
    ("nested payloads with no need to chunk stay as given", ["topic", "word"],
     {"topics": TUTORIAL_TOPICS, "a": 1},
     [{"a": 1, "topics": TUTORIAL_TOPICS}]),
    ("isolate at 3 levels", ["section", "store", "product"],
     {"sections": {"s1": {"stores": {"st1": {"products": ["p1", "p2"]}, "st2": None}}, "s2": None},
      "isolate_products": True},
     [{"sections": ["s1"], "stores": ["st1"], "products": ["p1"]},
      {"sections": ["s1"], "stores": ["st1"], "products": ["p2"]},
      {"sections": ["s1"], "stores": ["st2"]},
      {"sections": ["s2"]}]),
    ("3 levels, isolate the middle one: the level below stays whole", ["section", "store", "product"],
     {"sections": {"s1": {"stores": {"st1": {"products": ["p1", "p2"]}, "st2": {"products": ["p3"]}}}},
      "isolate_stores": True},
     [{"sections": ["s1"], "stores": ["st1"], "products": ["p1", "p2"]},
      {"sections": ["s1"], "stores": ["st2"], "products": ["p3"]}]),
    ("3 levels, the innermost at the root beside the outer ones", ["section", "store", "product"],
     {"sections": ["s1", "s2"], "products": ["p1", "p2"], "isolate_sections": True, "isolate_products": True},
     [{"sections": ["s1"], "products": ["p1"]}, {"sections": ["s1"], "products": ["p2"]},
      {"sections": ["s2"], "products": ["p1"]}, {"sections": ["s2"], "products": ["p2"]}]),
    ("a later attribute beside an unchunked one", ["topic", "word"],
     {"topics": ["a", "b"], "words": ["x", "y"], "isolate_words": True},
     [{"topics": ["a", "b"], "words": ["x"]}, {"topics": ["a", "b"], "words": ["y"]}]),
    ("dict whose values are None, isolated: its keys are the values", ["topic"],
     {"topics": {"cars": None, "food": None, "shows": None}, "isolate_topics": True},
     [{"topics": ["cars"]}, {"topics": ["food"]}, {"topics": ["shows"]}]),
    ("dict whose values are None, in batches", ["topic"],
     {"topics": {"cars": None, "food": None, "shows": None}, "max_topics_per_batch": 2},
     [{"topics": ["cars", "food"]}, {"topics": ["shows"]}]),
    ("dict whose values are None, not chunked: as given", ["topic"],
     {"topics": {"cars": None, "food": None}},
     [{"topics": {"cars": None, "food": None}}]),
    ("dict with None and nested values: None is an empty payload", ["topic", "word"],
     {"topics": {"cars": {"words": ["a", "b"]}, "food": None}, "isolate_words": True},
     [{"topics": ["cars"], "words": ["a"]}, {"topics": ["cars"], "words": ["b"]}, {"topics": ["food"]}]),
    ("singular key, isolated", ["word"],
     {"word": "car", "isolate_words": True},
     [{"words": ["car"]}]),
    ("singular key, not chunked: as given", ["word"],
     {"word": "car"},
     [{"word": "car"}]),
    ("singular key in a nested payload", ["topic", "word"],
     {"topics": {"cars": {"word": "toyota"}, "food": {"word": "meal"}}, "isolate_words": True},
     [{"topics": ["cars"], "words": ["toyota"]}, {"topics": ["food"], "words": ["meal"]}]),
    ("a set comes out sorted", ["word"],
     {"words": {"b", "a"}, "isolate_words": True},
     [{"words": ["a"]}, {"words": ["b"]}]),
    ("isolating an empty list gives no task", ["word"],
     {"words": [], "isolate_words": True},
     []),
    ("original config form: (attr, {}) pairs", [["topic", {}], ["word", {}]],
     {"topics": {"cars": {"words": ["a", "b"]}}, "isolate_words": True},
     [{"topics": ["cars"], "words": ["a"]}, {"topics": ["cars"], "words": ["b"]}]),
]


@pytest.mark.parametrize("attrs, job, expected", [case[1:] for case in CHUNKING_CASES],
                         ids=[case[0] for case in CHUNKING_CASES])
def test_construct_job_data(attrs, job, expected):
    scheduler = make(*attrs)
    assert scheduler.construct_job_data(job) == expected


@pytest.mark.parametrize("attrs, job, expected", [
    (["word"], {"words": ["a"]}, False),
    (["word"], {"words": ["a"], "isolate_words": True}, True),
    (["word"], {"words": ["a"], "isolate_words": False}, False),
    (["word"], {"word": "a", "max_words_per_batch": 3}, True),
    (["word"], {"isolate_words": True}, False),
    (["topic", "word"], {"topics": TUTORIAL_TOPICS}, False),
    (["topic", "word"], {"topics": TUTORIAL_TOPICS, "isolate_words": True}, True),
    (["topic", "word"], {"topics": {"cars": {"words": ["a"], "isolate_words": True}}}, True),
    (["topic", "word"], {"topics": ["a"], "words": ["b"], "isolate_words": True}, True),
    (["topic", "word"], {"topics": {"cars": None}, "isolate_words": True}, False),
])
def test_needs_chunking(attrs, job, expected):
    scheduler = make(*attrs)
    assert scheduler.needs_chunking(scheduler.chunkable_attrs[0], job) is expected


def test_tutorial_job_gives_one_task_per_word_and_day(monkeypatch):
    import datetime

    scheduler = make("topic", "word")
    monkeypatch.setattr(scheduler, "today_date", lambda: datetime.date(2026, 11, 22))
    event = load_event("scheduler_tutorial.json")
    job = scheduler.extract_job_from_payload(json.dumps(event))

    tasks = scheduler.construct_job_data(job)

    assert len(tasks) == 36
    words = {topic: spec["words"] for topic, spec in event["job"]["topics"].items()}
    seen = set()
    for task in tasks:
        assert sorted(task) == ["date_list", "topics", "words"]
        assert all(len(task[key]) == 1 for key in task)
        topic, word, day = task["topics"][0], task["words"][0], task["date_list"][0]
        assert word in words[topic]
        seen.add((word, day))
    assert {day for _, day in seen} == {"2026-11-20", "2026-11-21"}
    assert len(seen) == 36


# (id, chunkable_attrs, job, field named by the error)
INVALID_CASES = [
    ("a dict inside a list of values", ["word"], {"words": [{"x": 1}], "isolate_words": True}, "words"),
    ("a list inside a list of values", ["word"], {"words": [["x"]]}, "words"),
    ("a boolean value", ["word"], {"words": True}, "words"),
    ("a boolean in the list", ["word"], {"words": ["a", False], "max_words_per_batch": 1}, "words"),
    ("a nested list where a payload belongs", ["topic", "word"],
     {"topics": {"cars": ["a"], "food": None}, "isolate_topics": True}, "topics.cars"),
    ("a bad value deep inside", ["topic", "word"],
     {"topics": {"cars": {"words": [None]}}, "isolate_words": True}, "words"),
    ("isolate flag not a boolean", ["word"], {"words": ["a"], "isolate_words": "maybe"}, "isolate_words"),
    ("isolate flag a list", ["word"], {"words": ["a"], "isolate_words": [True]}, "isolate_words"),
    ("max per batch zero", ["word"], {"words": ["a"], "max_words_per_batch": 0}, "max_words_per_batch"),
    ("max per batch not an integer", ["word"], {"words": ["a"], "max_words_per_batch": "two"}, "max_words_per_batch"),
    ("max per batch a fraction", ["word"], {"words": ["a"], "max_words_per_batch": 2.5}, "max_words_per_batch"),
    ("singular and plural both given", ["word"], {"word": "a", "words": ["b"]}, "word"),
    ("a flag of no chunkable attribute", ["word"], {"words": ["a"], "isolate_colors": True}, "isolate_colors"),
    ("a batch size of no chunkable attribute", [], {"max_things_per_batch": 2}, "max_things_per_batch"),
    ("an unknown job schema", ["word"], {"job_schema_name": "nope"}, "job_schema_name"),
    ("a job schema name that is not a string", ["word"], {"job_schema_name": 3}, "job_schema_name"),
]


@pytest.mark.parametrize("attrs, job, field", [case[1:] for case in INVALID_CASES],
                         ids=[case[0] for case in INVALID_CASES])
def test_invalid_jobs_name_the_field(attrs, job, field):
    with pytest.raises(InvalidJob) as error:
        make(*attrs).construct_job_data(job)
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")


def test_job_schema_variant_is_picked_by_name():
    scheduler = make("word", job_schema_variants={"by_topic": {"chunkable_attrs": ["topic"]}})
    job = {"topics": ["a", "b"], "words": ["x", "y"], "isolate_topics": True}

    assert scheduler.construct_job_data({**job, "job_schema_name": "by_topic"}) == [
        {"topics": ["a"], "words": ["x", "y"]}, {"topics": ["b"], "words": ["x", "y"]}]
    # The next job names no variant: the default schema, where topics are no chunkable attribute.
    with pytest.raises(InvalidJob) as error:
        scheduler.construct_job_data(job)
    assert error.value.field == "isolate_topics"


@pytest.mark.parametrize("attrs", [["words"], ["day"], [["topic", {}], "topic"], ["2x"], [""], [3], "topic"])
def test_malformed_chunkable_attrs_is_a_config_error_at_construction(attrs):
    with pytest.raises(ConfigError, match="chunkable_attrs"):
        OfflineScheduler(custom_config={"job_schema": {"chunkable_attrs": attrs}})


def test_malformed_job_schema_variant_is_a_config_error_at_construction():
    with pytest.raises(ConfigError, match="job_schema_variants.by_topic.chunkable_attrs"):
        make("word", job_schema_variants={"by_topic": {"chunkable_attrs": ["topics"]}})


@pytest.mark.parametrize("data, expected", [
    (["a", 1, 2.5], ["a", 1, 2.5]),
    (("a", "b"), ["a", "b"]),
    ({"b", "a"}, ["a", "b"]),
    ({"x": None, "y": None}, ["x", "y"]),
    ([], []),
])
def test_validate_list_of_vals(data, expected):
    assert Scheduler.validate_list_of_vals(data) == expected


@pytest.mark.parametrize("data", ["abc", 5, {"x": 1}, [None], [True], [["a"]], [{"a": None}]])
def test_validate_list_of_vals_rejects(data):
    with pytest.raises(InvalidJob):
        Scheduler.validate_list_of_vals(data)


@pytest.mark.parametrize("attr, data, expected", [
    ("topic", ["topic", "word"], 0),
    ("words", ["topic", "word"], 1),
    ("word", ("topics", "words"), 1),
])
def test_get_index_from_list(attr, data, expected):
    assert Scheduler.get_index_from_list(attr, data) == expected


def test_get_index_from_list_of_missing_attr():
    with pytest.raises(ValueError, match="color"):
        Scheduler.get_index_from_list("color", ["topic", "word"])


# Event forms --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event, expected_labourer", [
    ({"job": {"lambda_name": "w", "a": 1}}, ("lambda_name", "w")),
    ({"lambda_name": "w", "a": 1}, ("lambda_name", "w")),
    ('{"job": {"labourer_id": "w"}}', ("labourer_id", "w")),
    ({"job": '{"lambda_name": "w"}'}, ("lambda_name", "w")),
    (b'{"lambda_name": "w"}', ("lambda_name", "w")),
    ({"lambda_name": "w", "job": {"a": 1}}, ("lambda_name", "w")),
    ({"job": {"labourer_id": "arn:aws:lambda:us-west-2:123456789012:function:w"}},
     ("labourer_id", "arn:aws:lambda:us-west-2:123456789012:function:w")),
    ({"job": {"lambda_name": "w", "labourer_id": "arn:aws:lambda:us-west-2:123456789012:function:w"}},
     ("lambda_name", "w")),
])
def test_extract_job_from_payload(event, expected_labourer):
    job = make().extract_job_from_payload(event)
    assert labourer_name(job) == expected_labourer


@pytest.mark.parametrize("event, field", [
    ("not json", "event"),
    ("[1, 2]", "event"),
    ({"job": [1]}, "job"),
    ({"job": {"a": 1}}, "lambda_name"),
    ({"a": 1}, "lambda_name"),
    ({"lambda_name": 5}, "lambda_name"),
    ({"lambda_name": "   "}, "lambda_name"),
    ({"lambda_name": "a", "labourer_id": "b"}, "labourer_id"),
])
def test_extract_job_from_malformed_payload(event, field):
    with pytest.raises(InvalidJob) as error:
        make().extract_job_from_payload(event)
    assert error.value.field == field


# Queue files --------------------------------------------------------------------------------------------------


def test_every_job_gets_a_fresh_queue_file(tmp_path):
    scheduler = make(queue_dir=str(tmp_path))
    first = scheduler.local_queue_file
    scheduler.set_queue_file()
    assert scheduler.local_queue_file != first
    assert scheduler.local_queue_file.startswith(str(tmp_path))
    assert scheduler.remote_queue_file == f"sosw/scheduler/{scheduler.job_id}.jsonl"
    assert scheduler.remote_queue_locked_file == f"sosw/scheduler/locked_{scheduler.job_id}.jsonl"


def test_task_ids_are_stable_per_job_and_row():
    scheduler = make()
    scheduler.set_queue_file("job-1.jsonl")
    ids = [scheduler.task_id(row) for row in range(3)]
    assert len(set(ids)) == 3
    scheduler.set_queue_file("job-1.jsonl")
    assert [scheduler.task_id(row) for row in range(3)] == ids
    scheduler.set_queue_file("job-2.jsonl")
    assert scheduler.task_id(0) not in ids


@pytest.mark.parametrize("rows, popped, left", [(1, ["a"], "b\nc\n"), (2, ["a", "b"], "c\n"),
                                                (5, ["a", "b", "c"], None), (0, [], "a\nb\nc\n")])
def test_pop_rows_from_file(tmp_path, rows, popped, left):
    path = tmp_path / "queue.jsonl"
    path.write_text("a\nb\nc\n")
    assert Scheduler.pop_rows_from_file(str(path), rows=rows) == popped
    assert (path.read_text() if path.exists() else None) == left


@pytest.mark.parametrize("key, name", [
    ("sosw/scheduler/abc.jsonl", "abc.jsonl"),
    ("sosw/scheduler/locked_abc.jsonl", "abc.jsonl"),
    ("abc.jsonl", "abc.jsonl"),
])
def test_queue_file_of_an_event(key, name):
    assert name_from_key(key, make().settings.s3_prefix) == name


@pytest.mark.parametrize("key", ["other/abc.jsonl", "sosw/scheduler/../x", "sosw/scheduler/..", ".hidden", 5,
                                 "sosw/scheduler/"])
def test_queue_file_of_an_event_outside_the_prefix_is_refused(key):
    from sosw.exceptions import InvalidEvent

    with pytest.raises(InvalidEvent) as error:
        name_from_key(key, make().settings.s3_prefix)
    assert error.value.field == "queue_file"
