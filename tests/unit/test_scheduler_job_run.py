"""The queue file, the S3 lock and the job run, with recording fakes of S3, the TaskManager and the SiblingsManager:
what was asked of AWS, and what the bucket holds afterwards. No network."""

import datetime
import io
import json
import os
import types

import pytest
from botocore.exceptions import ClientError

import sosw.app
from sosw.exceptions import ConfigError, InvalidEvent, InvalidInput, InvalidJob, LabourerNotFound
from sosw.labourer import Labourer
from sosw.scheduler import Scheduler
from sosw.scheduling import queue_file
from sosw.scheduling.job_run import JobRun, RunServices, has_time_left
from sosw.scheduling.queue_file import QueueFile
from sosw.scheduling.s3_lock import LOCKED, MISSING, TAKEN, QueueCopy, S3QueueLock
from sosw.scheduling.settings import SchedulerSettings

BUCKET = "queues"
PREFIX = "sosw/scheduler/"
LABOURER = Labourer(id="worker")


class FakeS3:
    """Objects in memory, with the error codes and conditional put of S3; records every call."""

    def __init__(self):
        self.objects = {}  # key -> (body bytes, metadata, last modified)
        self.calls = []

    def _missing(self, operation):
        return ClientError({"Error": {"Code": "NoSuchKey"}}, operation)

    def put_object(self, Bucket, Key, Body, Metadata, ContentType, IfNoneMatch=None):  # noqa: N803 - boto3's names
        self.calls.append(("put_object", Key))
        if IfNoneMatch == "*" and Key in self.objects:
            raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "PutObject")
        self.objects[Key] = (Body.read(), dict(Metadata), datetime.datetime.now(datetime.timezone.utc))

    def get_object(self, Bucket, Key):  # noqa: N803
        self.calls.append(("get_object", Key))
        if Key not in self.objects:
            raise self._missing("GetObject")
        body, metadata, modified = self.objects[Key]
        return {"Body": io.BytesIO(body), "Metadata": dict(metadata), "LastModified": modified}

    def head_object(self, Bucket, Key):  # noqa: N803
        self.calls.append(("head_object", Key))
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")
        _, metadata, modified = self.objects[Key]
        return {"Metadata": dict(metadata), "LastModified": modified}

    def copy_object(self, Bucket, Key, CopySource, Metadata, MetadataDirective, ContentType):  # noqa: N803
        self.calls.append(("copy_object", Key))
        body, _, _ = self.objects[CopySource["Key"]]
        self.objects[Key] = (body, dict(Metadata), datetime.datetime.now(datetime.timezone.utc))

    def delete_object(self, Bucket, Key):  # noqa: N803
        self.calls.append(("delete_object", Key))
        self.objects.pop(Key, None)

    def age(self, key, seconds):
        body, metadata, modified = self.objects[key]
        self.objects[key] = (body, metadata, modified - datetime.timedelta(seconds=seconds))


class FakeTasks:
    """The TaskManager's side: Labourers by id, tasks by id; records every create_tasks call."""

    def __init__(self, fail_on_call=None):
        self.tasks = {}
        self.calls = []
        self.fail_on_call = fail_on_call

    def get_labourer(self, labourer_id):
        if labourer_id != LABOURER.id:
            raise LabourerNotFound(f"{labourer_id!r} is not a configured Labourer")
        return LABOURER

    def construct_payload_for_task(self, **kwargs):
        if kwargs["payload"].get("bad"):
            raise InvalidInput("too large", field="payload")
        return json.dumps(kwargs["payload"])

    def create_tasks(self, labourer, payloads, task_ids=None, skip_existing=False):
        self.calls.append((len(payloads), skip_existing))
        written = [task_id for task_id in task_ids if not (skip_existing and task_id in self.tasks)]
        self.tasks.update({task_id: payload for task_id, payload in zip(task_ids, payloads)})
        if self.fail_on_call == len(self.calls):
            raise RuntimeError("the Lambda died")
        return written


class FakeSiblings:
    def __init__(self):
        self.spawned = []

    def spawn_sibling(self, lambda_context, payload=None, force=False):
        self.spawned.append((payload, force))


class Host:
    """The Scheduler's side of a run: settings, clients and a time budget of ``batches`` batches."""

    def __init__(self, tmp_path, batches=None, **config):
        self.settings = SchedulerSettings.from_config({"queue_bucket": BUCKET, "batch_size": 2, **config})
        self.s3, self.tasks, self.siblings = FakeS3(), FakeTasks(), FakeSiblings()
        self.stats = {"queue_checkpoints": 0, "queue_files_taken": 0, "jobs_parsed": 0, "rows_parsed": 0}
        self.batches = batches
        self.tmp_path = tmp_path
        self.run = None

    def queue(self, name):
        return QueueFile.new(name, str(self.tmp_path), self.settings.s3_prefix)

    def time_left(self):
        if self.batches is None:
            return True
        self.batches -= 1
        return self.batches > 0

    def services(self):
        return RunServices(task_client=self.tasks, s3_client=self.s3, siblings_client=self.siblings,
                           settings=self.settings, stats=self.stats, context="context", time_left=self.time_left,
                           lock_queue_file=lambda: self.run.lock(self.services()),
                           unlock_queue_file=lambda: self.run.unlock(self.services()))

    def start(self, name, request_id=None, rows=None):
        self.run = JobRun.for_request(request_id, self.queue(name))
        if rows is not None:
            job = {"lambda_name": "worker", "n": list(range(rows))}
            self.run.parse(job, lambda job: [{"n": n} for n in job["n"]], self.services())
        return self.run


def words(tasks):
    return sorted(payload["n"] for payload in tasks.values())


# The queue file -------------------------------------------------------------------------------------------------


def test_queue_file_names():
    queue = QueueFile.new("job-1.jsonl", "/tmp/q", PREFIX)
    assert (queue.job_id, queue.local_path, queue.remote_key, queue.locked_key) == (
        "job-1", "/tmp/q/job-1.jsonl", "sosw/scheduler/job-1.jsonl", "sosw/scheduler/locked_job-1.jsonl")
    assert QueueFile.new(None, "/tmp", "").name != QueueFile.new(None, "/tmp", "").name


def test_task_ids_derive_from_the_job_and_the_row():
    assert queue_file.task_id("job-1", 0) == queue_file.task_id("job-1", 0)
    assert len({queue_file.task_id("job-1", 0), queue_file.task_id("job-1", 1), queue_file.task_id("job-2", 0)}) == 3


def test_write_rows_is_all_or_nothing(tmp_path):
    path = str(tmp_path / "q.jsonl")

    def rows():
        yield "a"
        raise InvalidJob("bad row", field="words")

    with pytest.raises(InvalidJob):
        queue_file.write_rows(path, rows())
    assert os.listdir(tmp_path) == []
    assert queue_file.write_rows(path, iter(["a", "b"])) == 2
    assert open(path).read() == "a\nb\n"


# The job run ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("request_id, owner, retry", [
    (None, None, False),
    ("", None, False),
    ("request-1", "request-1", True),
    ("request:3/é", "hashed", True),
])
def test_the_owner_of_a_run_is_its_request_id(tmp_path, request_id, owner, retry):
    run = JobRun.for_request(request_id, QueueFile.new(None, str(tmp_path), PREFIX))

    assert run.retry_possible is retry
    if owner == "hashed":
        assert len(run.owner) == 32 and run.owner == JobRun.for_request(request_id, run.queue).owner
    elif owner:
        assert run.owner == owner
    else:
        assert len(run.owner) == 32


def test_restart_keeps_the_invocation_and_drops_the_job(tmp_path):
    host = Host(tmp_path)
    run = host.start("job.jsonl", "request-1", rows=3)

    again = run.restart(host.queue("other.jsonl"))

    assert (again.owner, again.retry_possible) == ("request-1", True)
    assert (again.job_id, again.rows_parsed, again.labourer_id) == ("other", None, None)


def test_a_one_batch_job_writes_no_s3_file(tmp_path):
    host = Host(tmp_path)
    host.start("job.jsonl", rows=2)

    assert host.run.process(host.services()) == {"status": "done", "tasks_created": 2, "job_id": "job",
                                                 "queue_file": None}
    assert host.s3.calls == []
    assert host.tasks.calls == [(2, False)]
    assert os.listdir(tmp_path) == []


def test_a_one_batch_job_of_a_possible_retry_skips_existing_tasks(tmp_path):
    host = Host(tmp_path)
    host.start("job.jsonl", "request-1", rows=2)

    host.run.process(host.services())

    assert host.tasks.calls == [(2, True)]


def test_an_invalid_payload_writes_nothing(tmp_path):
    host = Host(tmp_path)
    run = JobRun(host.queue("job.jsonl"))

    with pytest.raises(InvalidJob, match="task 1 of the job") as raised:
        run.parse({"lambda_name": "worker"}, lambda job: [{"n": 1}, {"bad": True}], host.services())
    assert raised.value.field == "payload"
    with pytest.raises(LabourerNotFound) as raised:
        run.parse({"labourer_id": "nobody"}, lambda job: [{"n": 1}], host.services())
    assert raised.value.field == "labourer_id"
    assert os.listdir(tmp_path) == []


def test_a_large_job_is_locked_checkpointed_and_finished(tmp_path):
    host = Host(tmp_path)
    host.start("job.jsonl", rows=5)

    result = host.run.process(host.services())

    assert result == {"status": "done", "tasks_created": 5, "job_id": "job", "queue_file": "sosw/scheduler/job.jsonl"}
    locked = "sosw/scheduler/locked_job.jsonl"
    assert host.s3.calls == [("put_object", locked), ("copy_object", locked), ("copy_object", locked),
                             ("delete_object", locked)]
    assert host.tasks.calls == [(2, False), (2, False), (1, False)]
    assert host.s3.objects == {}
    assert host.stats["queue_checkpoints"] == 2


def test_a_large_job_without_a_bucket_is_a_config_error_and_leaves_nothing(tmp_path):
    host = Host(tmp_path, queue_bucket=None)
    host.start("job.jsonl", rows=5)

    with pytest.raises(ConfigError, match="queue_bucket"):
        host.run.process(host.services())
    assert host.tasks.calls == []
    assert os.listdir(tmp_path) == []


def test_time_running_short_hands_the_rest_to_a_sibling(tmp_path):
    host = Host(tmp_path, batches=2)
    host.start("job.jsonl", rows=5)

    result = host.run.process(host.services())

    assert result == {"status": "continued_in_sibling", "tasks_created": 4, "job_id": "job",
                      "queue_file": "sosw/scheduler/job.jsonl"}
    body, metadata, _ = host.s3.objects["sosw/scheduler/job.jsonl"]
    assert [json.loads(line)["payload"] for line in body.decode().splitlines()] == [{"n": 4}]
    assert metadata == {"labourer-id": "worker", "job-id": "job", "rows-done": "0"}
    assert list(host.s3.objects) == ["sosw/scheduler/job.jsonl"]
    assert host.siblings.spawned == [({"queue_file": "sosw/scheduler/job.jsonl"}, True)]
    assert os.listdir(tmp_path) == []

    # The sibling takes the rest over.
    sibling = host.start("job.jsonl", "request-2")
    assert sibling.process(host.services())["tasks_created"] == 1
    assert words(host.tasks.tasks) == [0, 1, 2, 3, 4]
    assert host.s3.objects == {}


def test_a_retry_after_a_crash_resumes_after_the_checkpoint_without_duplicates(tmp_path):
    host = Host(tmp_path)
    host.tasks.fail_on_call = 2
    host.start("request-1.jsonl", "request-1", rows=5)
    with pytest.raises(RuntimeError):
        host.run.process(host.services())
    assert host.s3.objects["sosw/scheduler/locked_request-1.jsonl"][1]["rows-done"] == "2"

    host.tasks.fail_on_call = None
    host.start("request-1.jsonl", "request-1", rows=5)
    result = host.run.process(host.services())

    assert result["tasks_created"] == 1  # rows 2 and 3 were written before the crash, row 4 now
    assert host.tasks.calls[2:] == [(2, True), (1, False)]
    assert words(host.tasks.tasks) == [0, 1, 2, 3, 4]
    assert host.s3.objects == {}


# The S3 lock ----------------------------------------------------------------------------------------------------


def make_lock(host, name="job.jsonl", owner="me", lock_timeout=900):
    queue = host.queue(name)
    return S3QueueLock(host.s3, BUCKET, queue, owner, lock_timeout, host.stats), queue


def test_take_a_missing_file(tmp_path):
    lock, _ = make_lock(Host(tmp_path))
    assert lock.take() == (MISSING, None)


def test_take_an_unlocked_file_locks_it(tmp_path):
    host = Host(tmp_path)
    lock, queue = make_lock(host)
    queue_file.write_rows(queue.local_path, ["row"])
    lock.release(QueueCopy("worker", "job", 5))
    os.remove(queue.local_path)

    assert lock.take() == (TAKEN, QueueCopy("worker", "job", 0))

    assert list(host.s3.objects) == [queue.locked_key]
    assert host.s3.objects[queue.locked_key][1]["owner"] == "me"
    assert open(queue.local_path).read() == "row\n"


def test_a_lock_of_another_owner_is_taken_over_only_once_stale(tmp_path):
    host = Host(tmp_path)
    theirs, queue = make_lock(host, owner="them")
    queue_file.write_rows(queue.local_path, ["a", "b", "c"])
    assert theirs.lock(QueueCopy("worker", "job"))
    theirs.checkpoint(QueueCopy("worker", "job", rows_done=2))
    mine, _ = make_lock(host, owner="me", lock_timeout=60)

    assert mine.lock(QueueCopy("worker", "job")) is False
    assert mine.take() == (LOCKED, None)
    host.s3.age(queue.locked_key, 61)
    assert mine.take() == (TAKEN, QueueCopy("worker", "job", 2))

    assert open(queue.local_path).read() == "c\n"  # the rows already in DynamoDB are dropped
    assert host.s3.objects[queue.locked_key][1]["owner"] == "me"


def test_a_file_without_queue_metadata_is_refused(tmp_path):
    host = Host(tmp_path)
    lock, queue = make_lock(host)
    host.s3.objects[queue.remote_key] = (b"x\n", {}, datetime.datetime.now(datetime.timezone.utc))

    with pytest.raises(InvalidEvent) as raised:
        lock.take()
    assert raised.value.field == "queue_file"


@pytest.mark.parametrize("remaining, expected", [(None, True), (61_000, True), (60_000, False)])
def test_has_time_left(remaining, expected):
    context = None if remaining is None else types.SimpleNamespace(get_remaining_time_in_millis=lambda: remaining)
    assert has_time_left(context, 60) is expected


# The Scheduler keeps no job state --------------------------------------------------------------------------------

JOB_STATE = {"job_id", "_labourer_id", "_rows_parsed", "_unconfirmed", "_remote_rows_done", "_lock_status",
             "_queue_file_name", "_owner", "_retry_possible"}


class OfflineScheduler(Scheduler):
    DEFAULT_CONFIG = {**Scheduler.DEFAULT_CONFIG, "init_clients": []}

    def get_config(self, name):
        return {}  # no config rows: the test gives its config


def test_a_warm_scheduler_starts_every_invocation_with_a_fresh_job_run(tmp_path, monkeypatch):
    monkeypatch.setattr(sosw.app.global_vars, "lambda_context", None)
    scheduler = OfflineScheduler(custom_config={"queue_dir": str(tmp_path), "job_schema": {"chunkable_attrs": ["n"]}})
    scheduler.task_client = FakeTasks()
    runs = []

    for _ in range(2):
        result = scheduler({"lambda_name": "worker", "ns": [1, 2], "isolate_ns": True})
        runs.append(scheduler._run)
        assert result["tasks_created"] == 2
        assert JOB_STATE.isdisjoint(vars(scheduler))

    assert runs[0] is not runs[1]
    assert runs[0].job_id != runs[1].job_id
    assert scheduler.job_id == runs[1].job_id
