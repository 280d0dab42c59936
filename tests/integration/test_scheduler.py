"""Scheduler against moto (DynamoDB, S3) and the local Lambda service: what the tables and the bucket hold after
each job, sibling continuation and crash recovery."""

import datetime
import json
import re

import boto3
import pytest

import sosw.app
from sosw.app import get_lambda_handler
from sosw.exceptions import ConfigError, InvalidJob, LabourerNotFound
from sosw.local.lambda_service import LocalLambdaService
from sosw.scheduler import Scheduler
from tests.conftest import load_event
from tests.integration.conftest import scan_all

LABOURER = "sosw_tutorial_pull_tweeter_hashtags"
BUCKET = "sosw-scheduler-queue"
FUNCTION_ARN = "arn:aws:lambda:us-west-2:123456789012:function:sosw_scheduler"


class Context:
    """A Lambda context with a fixed request id and as much time left as the test says."""

    def __init__(self, request_id: str, remaining_ms: int = 600_000):
        self.aws_request_id = request_id
        self.function_name = "sosw_scheduler"
        self.invoked_function_arn = FUNCTION_ARN
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class Budget:
    """Wraps the context the local Lambda service passes: the first ``checks`` time checks find plenty of time,
    later ones find less than ``shutdown_period`` - the invocation runs out of time after ``checks + 1`` batches."""

    def __init__(self, context, checks: int):
        self._context = context
        self._checks = checks

    def __getattr__(self, name):
        return getattr(self._context, name)

    def get_remaining_time_in_millis(self) -> int:
        self._checks -= 1
        return 600_000 if self._checks >= 0 else 1_000


@pytest.fixture(autouse=True)
def no_global_context(monkeypatch):
    monkeypatch.setattr(sosw.app.global_vars, "lambda_context", None)


@pytest.fixture
def s3(sosw_tables):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return client


@pytest.fixture
def config(tmp_path):
    return {
        "queue_bucket": BUCKET,
        "queue_dir": str(tmp_path),
        "batch_size": 100,
        "job_schema": {"chunkable_attrs": ["topic", "word"]},
        "task_config": {"labourers": {LABOURER: {"max_simultaneous_invocations": 3}}},
    }


def s3_keys(s3) -> list:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def tasks() -> dict:
    items = scan_all("sosw_tasks")
    by_id = {item["task_id"]: item for item in items}
    assert len(by_id) == len(items)
    return by_id


def words_job(count: int) -> dict:
    return {"lambda_name": LABOURER, "words": [f"w{i:04}" for i in range(count)], "isolate_words": True, "n": 1}


def payload_words(items) -> list:
    """The word of each task, in queue order (by greenfield)."""
    ordered = sorted(items, key=lambda item: item["greenfield"])
    return [json.loads(item["payload"])["words"][0] for item in ordered]


def crash_on_call(monkeypatch, scheduler: Scheduler, call: int) -> None:
    """The Lambda dies right after the ``call``-th batch reached DynamoDB, before its rows leave the queue file."""
    original = scheduler.task_client.create_tasks
    calls = []

    def create_tasks(*args, **kwargs):
        written = original(*args, **kwargs)
        calls.append(written)
        if len(calls) == call:
            raise RuntimeError("the Lambda died")
        return written

    monkeypatch.setattr(scheduler.task_client, "create_tasks", create_tasks)


# Small jobs ---------------------------------------------------------------------------------------------------


def test_tutorial_job_gives_36_tasks(s3, config, monkeypatch, tmp_path):
    scheduler = Scheduler(custom_config=config)
    monkeypatch.setattr(scheduler, "today_date", lambda: datetime.date(2026, 11, 22))

    result = scheduler(load_event("scheduler_tutorial.json"))

    assert result["status"] == "done"
    assert result["tasks_created"] == 36
    stored = tasks()
    assert len(stored) == 36
    pairs = set()
    for task in stored.values():
        assert task["labourer_id"] == LABOURER
        assert task["attempts"] == 0
        payload = json.loads(task["payload"])
        assert sorted(payload) == ["date_list", "topics", "words"]
        assert all(len(values) == 1 for values in payload.values())
        pairs.add((payload["words"][0], payload["date_list"][0]))
    assert len(pairs) == 36
    assert {day for _, day in pairs} == {"2026-11-20", "2026-11-21"}
    assert len({task["greenfield"] for task in stored.values()}) == 36
    # one batch: no queue file in S3, none left in /tmp
    assert s3_keys(s3) == []
    assert list(tmp_path.iterdir()) == []


def test_job_given_as_json_text_for_a_labourer_named_by_arn(s3, config):
    event = json.dumps(load_event("scheduler_job_by_arn.json"))

    assert Scheduler(custom_config=config)(event)["tasks_created"] == 2

    payloads = sorted((json.loads(task["payload"]) for task in tasks().values()), key=lambda p: p["topics"])
    assert payloads == [
        {"topics": ["cars"], "words": ["toyota", "mazda"], "date_list": ["2026-11-01", "2026-11-02"],
         "source": "twitter"},
        {"topics": ["food"], "date_list": ["2026-11-01", "2026-11-02"], "source": "twitter"},
    ]
    assert {task["labourer_id"] for task in tasks().values()} == {LABOURER}


def test_warm_container_uses_a_fresh_queue_file_per_job_and_a_retry_adds_nothing(s3, config, monkeypatch):
    handler = get_lambda_handler(Scheduler, custom_config=config)
    job = {"job": {"lambda_name": LABOURER, "words": ["a", "b", "c"], "isolate_words": True}}

    first = handler(job, Context("request-1"))
    second = handler(job, Context("request-2"))
    retry = handler(job, Context("request-1"))  # Lambda retries request-1: its tasks exist already
    odd = handler(job, Context("request:3/é"))

    assert first["job_id"] == "request-1"
    assert second["job_id"] == "request-2"
    assert re.fullmatch("[0-9a-f]{32}", odd["job_id"])  # a request id unfit for S3 keys is hashed
    assert [first["tasks_created"], second["tasks_created"], retry["tasks_created"], odd["tasks_created"]] == [
        3, 3, 0, 3]
    assert len(tasks()) == 9


# Invalid jobs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event, error, field", [
    ({"job": {"lambda_name": "nobody", "words": ["a"]}}, LabourerNotFound, "lambda_name"),
    ({"labourer_id": "arn:aws:lambda:us-west-2:123456789012:function:nobody"}, LabourerNotFound, "labourer_id"),
    ({"job": {"lambda_name": LABOURER, "period": "last_fortnight"}}, InvalidJob, "period"),
    ({"job": {"lambda_name": LABOURER, "words": ["a", {"b": 1}], "isolate_words": True}}, InvalidJob, "words"),
    ({"job": {**words_job(250), "words": [f"w{i}" for i in range(250)] + [["late"]]}}, InvalidJob, "words"),
    ({"job": {"lambda_name": LABOURER, "topics": {"cars": 5}, "isolate_topics": True}}, InvalidJob, "topics.cars"),
    ({"job": {"lambda_name": LABOURER, "blob": "x" * 400_000}}, InvalidJob, "payload"),
    ({"job": {}}, InvalidJob, "lambda_name"),
    ("{not json", InvalidJob, "event"),
], ids=["unknown labourer", "unknown labourer arn", "unknown period", "bad value type", "bad value after 250 rows",
        "bad nested payload", "payload too large", "no labourer", "not json"])
def test_invalid_job_names_the_field_and_writes_nothing(s3, config, tmp_path, event, error, field):
    with pytest.raises(error) as raised:
        Scheduler(custom_config=config)(event)

    assert raised.value.field == field
    assert field in str(raised.value)
    assert tasks() == {}
    assert s3_keys(s3) == []
    assert list(tmp_path.iterdir()) == []


def test_large_job_without_queue_bucket_is_a_config_error_and_writes_nothing(s3, config, tmp_path):
    config["queue_bucket"] = None

    with pytest.raises(ConfigError, match="queue_bucket"):
        Scheduler(custom_config=config)({"job": words_job(101)})

    assert tasks() == {}
    assert list(tmp_path.iterdir()) == []


# Large jobs ---------------------------------------------------------------------------------------------------


def test_large_job_is_locked_in_s3_and_checkpointed_after_every_batch(s3, config, monkeypatch):
    scheduler = Scheduler(custom_config=config)
    seen = []
    original = scheduler.task_client.create_tasks

    def create_tasks(labourer, payloads, task_ids=None, skip_existing=False):
        head = s3.head_object(Bucket=BUCKET, Key=scheduler.remote_queue_locked_file)
        seen.append((s3_keys(s3), head["Metadata"]["rows-done"], head["Metadata"]["owner"], len(payloads),
                     skip_existing))
        return original(labourer, payloads, task_ids=task_ids, skip_existing=skip_existing)

    monkeypatch.setattr(scheduler.task_client, "create_tasks", create_tasks)

    result = scheduler({"job": words_job(250)})

    locked = f"sosw/scheduler/locked_{result['job_id']}.jsonl"
    owner = result["job_id"]  # without a Lambda context, the job id is a fresh uuid and the lock owner
    assert seen == [([locked], "0", owner, 100, False), ([locked], "100", owner, 100, False),
                    ([locked], "200", owner, 50, False)]
    assert result == {"status": "done", "tasks_created": 250, "job_id": owner,
                      "queue_file": f"sosw/scheduler/{owner}.jsonl"}
    stored = tasks()
    assert payload_words(stored.values()) == [f"w{i:04}" for i in range(250)]
    assert set(stored) == {scheduler.task_id(row) for row in range(250)}
    assert s3_keys(s3) == []


def test_sibling_resumes_the_job_when_time_runs_short(s3, config, monkeypatch):
    with LocalLambdaService(async_retry_delays=(0.05, 0.05)) as lambdas:
        for name, value in lambdas.environ().items():
            monkeypatch.setenv(name, value)
        handler = get_lambda_handler(Scheduler, custom_config=config)
        # Every invocation has time for two batches; one container, as the sibling waits for the first to end.
        lambdas.register("sosw_scheduler", lambda event, context: handler(event, Budget(context, checks=1)),
                         timeout=30, reserved_concurrency=1)

        response = boto3.client("lambda").invoke(FunctionName="sosw_scheduler",
                                                 Payload=json.dumps({"job": words_job(500)}))
        first = json.loads(response["Payload"].read())
        assert lambdas.wait_idle(30)
        invocations = lambdas.invocations

    queue_file = f"sosw/scheduler/{first['job_id']}.jsonl"
    assert first == {"status": "continued_in_sibling", "tasks_created": 200, "job_id": first["job_id"],
                     "queue_file": queue_file}
    assert [(i["type"], i["status"]) for i in invocations] == [("RequestResponse", "succeeded"),
                                                               ("Event", "succeeded"), ("Event", "succeeded")]
    assert [i["payload"] for i in invocations[1:]] == [{"queue_file": queue_file}] * 2
    assert [(i["result"]["status"], i["result"]["tasks_created"]) for i in invocations] == [
        ("continued_in_sibling", 200), ("continued_in_sibling", 200), ("done", 100)]
    stored = tasks()
    assert payload_words(stored.values()) == [f"w{i:04}" for i in range(500)]
    assert s3_keys(s3) == []


def test_crash_after_a_batch_was_written_and_a_retry_resumes_without_duplicates(s3, config, monkeypatch, tmp_path):
    first = Scheduler(custom_config=config, lambda_context=Context("request-1"))
    crash_on_call(monkeypatch, first, call=2)

    with pytest.raises(RuntimeError, match="died"):
        first({"job": words_job(250)})

    before = tasks()
    assert len(before) == 200
    head = s3.head_object(Bucket=BUCKET, Key="sosw/scheduler/locked_request-1.jsonl")
    assert head["Metadata"]["rows-done"] == "100"  # the second batch is in DynamoDB, not yet checkpointed

    # Lambda retries the invocation, maybe in another container: same event, same request id.
    retry = Scheduler(custom_config=config, lambda_context=Context("request-1"))
    result = retry({"job": words_job(250)})

    assert result == {"status": "done", "tasks_created": 50, "job_id": "request-1",
                      "queue_file": "sosw/scheduler/request-1.jsonl"}
    after = tasks()
    assert payload_words(after.values()) == [f"w{i:04}" for i in range(250)]
    for task_id, task in before.items():
        assert after[task_id] == task  # not written again: still in its place in the queue
    assert s3_keys(s3) == []
    assert list(tmp_path.iterdir()) == []


def test_a_locked_queue_file_waits_for_its_owner_until_the_lock_is_stale(s3, config, monkeypatch):
    owner = Scheduler(custom_config=config, lambda_context=Context("request-1"))
    crash_on_call(monkeypatch, owner, call=1)
    with pytest.raises(RuntimeError):
        owner({"job": words_job(250)})
    assert len(tasks()) == 100
    queue_file = {"queue_file": "sosw/scheduler/request-1.jsonl"}

    other = Scheduler(custom_config=config, lambda_context=Context("request-2"))
    assert other(queue_file) == {"status": "locked", "tasks_created": 0, "job_id": "request-1",
                                 "queue_file": "sosw/scheduler/request-1.jsonl"}
    assert len(tasks()) == 100
    assert s3_keys(s3) == ["sosw/scheduler/locked_request-1.jsonl"]

    stale = Scheduler(custom_config={**config, "queue_lock_timeout": 0}, lambda_context=Context("request-3"))
    result = stale(json.dumps(queue_file))

    assert (result["status"], result["tasks_created"]) == ("done", 150)
    assert payload_words(tasks().values()) == [f"w{i:04}" for i in range(250)]
    assert s3_keys(s3) == []
    assert stale(queue_file)["status"] == "not_found"


def test_resuming_a_queue_file_that_is_not_there(s3, config):
    result = Scheduler(custom_config=config)(load_event("scheduler_sibling.json"))

    assert result["status"] == "not_found"
    assert result["tasks_created"] == 0
    assert tasks() == {}
