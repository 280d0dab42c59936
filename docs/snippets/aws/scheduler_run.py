"""The Scheduler as its Lambda runs it: a job in, tasks in sosw_tasks; a bad job writes nothing."""

import json
from pathlib import Path

import boto3

from sosw.exceptions import InvalidJob, LabourerNotFound
from sosw.scheduler import Scheduler

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TASK_JSON = EXAMPLES / "workers/sosw_tutorial_pull_tweeter_hashtags/config/task.json"
WORKER = "sosw_tutorial_pull_tweeter_hashtags"

# What sosw_scheduler_config and sosw_essential_config say after `python examples/config_updater.py WORKER`.
scheduler = Scheduler(custom_config={
    "queue_bucket": "sosw-s3-000000000000",  # used only by jobs larger than batch_size (500 tasks)
    "job_schema": {"chunkable_attrs": ["topic", "word"]},
    "task_config": {"labourers": {WORKER: {"max_simultaneous_invocations": 3}}},
})

result = scheduler(json.loads(TASK_JSON.read_text()))
print(result)
assert result["status"] == "done" and result["tasks_created"] == 36 and result["queue_file"] is None

items = boto3.resource("dynamodb").Table("sosw_tasks").scan()["Items"]
assert len(items) == 36 and {item["labourer_id"] for item in items} == {WORKER}
assert all(json.loads(item["payload"])["words"] for item in items)

# Errors come before anything is written: the whole job is chunked and checked first.
for bad_event, error in [
    ({"lambda_name": WORKER, "words": ["a"], "isolate_words": "maybe"}, InvalidJob),
    ({"lambda_name": "no_such_worker", "words": ["a"]}, LabourerNotFound),
]:
    try:
        scheduler(bad_event)
    except error as err:
        print(f"{type(err).__name__}: {err}")
    else:
        raise AssertionError(f"{bad_event} was accepted")
assert boto3.client("dynamodb").scan(TableName="sosw_tasks", Select="COUNT")["Count"] == 36
