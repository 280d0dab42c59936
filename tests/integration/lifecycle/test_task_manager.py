"""
TaskManager's API against the tables: reading the queue and the tasks in each state, invoking, creating, Labourers,
renamed attributes and durations from closed tasks.
"""

import json

import boto3
import pytest

from sosw import constants
from sosw.exceptions import ConditionCheckFailed, InvalidInput, InvalidTask, LabourerNotFound, TaskNotFound
from sosw.managers.task import MAX_PAYLOAD_BYTES
from tests.integration.conftest import scan_all
from tests.integration.lifecycle.conftest import COOLDOWN, DURATION, EXPIRY, EchoWorker, SilentWorker, by_id

DELTA = constants.GREENFIELD_INVOCATION_DELTA
STEP = constants.GREENFIELD_TASK_STEP
FIRST = constants.FIRST_GREENFIELD
TASKS, CLOSED, RETRY = constants.TASKS_TABLE, constants.CLOSED_TASKS_TABLE, constants.RETRY_TASKS_TABLE
ARN = "arn:aws:lambda:us-west-2:123456789012:function:"


@pytest.fixture
def env(lifecycle):
    return lifecycle({"w": {"max_simultaneous_invocations": 5}, "other": {}}, workers={"w": SilentWorker})


@pytest.fixture
def tm(env):
    return env.task_manager()


def test_queue_reads(env, tm):
    labourer = tm.get_labourer("w")
    assert tm.get_oldest_greenfield_for_labourer(labourer) == FIRST
    assert tm.get_newest_greenfield_for_labourer(labourer) == FIRST
    assert tm.get_length_of_queue_for_labourer(labourer) == 0
    assert tm.get_next_for_labourer(labourer, cnt=3) == []

    ids = tm.create_tasks(labourer, [{"n": i} for i in range(5)])
    tm.create_tasks(tm.get_labourer("other"), [{"n": 9}])  # another Labourer's queue is apart

    assert tm.get_oldest_greenfield_for_labourer(labourer) == FIRST + STEP
    assert tm.get_newest_greenfield_for_labourer(labourer) == FIRST + 5 * STEP
    assert tm.get_length_of_queue_for_labourer(labourer) == 5
    assert tm.get_next_for_labourer(labourer, cnt=2, only_ids=True) == ids[:2]
    [first] = tm.get_next_for_labourer(labourer)
    # Items come back as plain values, JSON object text decoded (as the original DynamoDbClient did).
    assert first["task_id"] == ids[0] and first["greenfield"] == FIRST + STEP and first["payload"] == {"n": 0}
    assert tm.get_next_for_labourer(labourer, cnt=0) == []
    assert tm.get_next_for_labourer(labourer, cnt=50, only_ids=True) == ids
    assert tm.get_task_by_id(ids[3])["payload"] == {"n": 3}
    assert tm.get_task_by_id("missing") is None


def test_tasks_in_each_state(env, tm):
    labourer = tm.get_labourer("w")
    ids = tm.create_tasks(labourer, [{"n": i} for i in range(4)])
    labourer = tm.register_labourers()[0]
    assert labourer.get_attr("start") == env.clock.now
    assert labourer.get_attr("invoked") == env.clock.now + DELTA
    assert labourer.get_attr("expired") == env.clock.now + DELTA - EXPIRY
    assert tm.invoke_tasks(labourer, tm.get_next_for_labourer(labourer, cnt=3)) == ids[:3]
    env.wait()

    assert sorted(t["task_id"] for t in tm.get_running_tasks_for_labourer(labourer)) == sorted(ids[:3])
    assert tm.get_count_of_running_tasks_for_labourer(labourer) == 3
    assert sorted(t["task_id"] for t in tm.get_invoked_tasks_for_labourer(labourer)) == sorted(ids[:3])
    assert tm.get_completed_tasks_for_labourer(labourer) == []
    assert tm.get_expired_tasks_for_labourer(labourer) == []

    env.clock.advance(2)
    assert tm.mark_task_as_completed(ids[0], stats={"rows": 7}, result={"file": "a.csv"}) is True
    assert tm.mark_task_as_completed(ids[0]) is False
    with pytest.raises(TaskNotFound):
        tm.mark_task_as_completed("missing")
    assert [t["task_id"] for t in tm.get_completed_tasks_for_labourer(labourer)] == [ids[0]]
    assert tm.get_invoked_tasks_for_labourer(labourer, completed=True)[0]["stat_rows"] == 7
    assert sorted(t["task_id"] for t in tm.get_invoked_tasks_for_labourer(labourer, completed=False)) == \
        sorted(ids[1:3])
    assert tm.get_count_of_running_tasks_for_labourer(labourer) == 2

    # Past duration + cooldown: the two not completed are expired; the completed one is still completed.
    env.clock.advance(EXPIRY)
    labourer = tm.register_labourers()[0]
    assert sorted(t["task_id"] for t in tm.get_expired_tasks_for_labourer(labourer)) == sorted(ids[1:3])
    assert tm.get_count_of_running_tasks_for_labourer(labourer) == 0
    assert tm.get_invoked_tasks_for_labourer(labourer) == []  # invoked before this run
    assert [t["task_id"] for t in tm.get_completed_tasks_for_labourer(labourer)] == [ids[0]]
    assert tm.get_next_for_labourer(labourer, cnt=5, only_ids=True) == [ids[3]]
    assert tm.get_length_of_queue_for_labourer(labourer) == 1


def test_tasks_to_retry(env, tm):
    labourer = tm.get_labourer("w")
    ids = tm.create_tasks(labourer, [{"n": i} for i in range(3)])
    labourer = tm.register_labourers()[0]
    tm.invoke_tasks(labourer, tm.get_next_for_labourer(labourer, cnt=2))
    env.clock.advance(EXPIRY + 1)
    labourer = tm.register_labourers()[0]
    expired = sorted(tm.get_expired_tasks_for_labourer(labourer), key=lambda t: t["task_id"])
    assert tm.move_task_to_retry_table(expired[0], 30) is True
    assert tm.move_task_to_retry_table(expired[0], 30) is False  # moved already
    assert tm.move_tasks_to_retry_table([(expired[1], 60)]) == [expired[1]["task_id"]]
    assert by_id(RETRY)[expired[0]["task_id"]]["desired_launch_time"] == env.clock.now + 30

    assert tm.get_tasks_to_retry_for_labourer(labourer) == []
    env.clock.advance(30)
    assert tm.get_tasks_to_retry_for_labourer(labourer) == []  # due by now, not by the start of this run
    labourer = tm.register_labourers()[0]
    assert [t["task_id"] for t in tm.get_tasks_to_retry_for_labourer(labourer)] == [expired[0]["task_id"]]
    env.clock.advance(30)
    labourer = tm.register_labourers()[0]
    due = tm.get_tasks_to_retry_for_labourer(labourer)
    assert [t["task_id"] for t in due] == [expired[0]["task_id"], expired[1]["task_id"]]
    assert tm.get_tasks_to_retry_for_labourer(labourer, limit=1) == due[:1]

    assert tm.retry_tasks(labourer, due) == [t["task_id"] for t in due]
    # At the head of the queue, in the order given, before the task that never left it.
    assert tm.get_next_for_labourer(labourer, cnt=5, only_ids=True) == [due[0]["task_id"], due[1]["task_id"], ids[2]]
    assert tm.retry_task(due[0], "w", 5) is False  # already back


def test_invoke_task_by_id_and_by_task(env, tm):
    ids = tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(2)])
    labourer = tm.register_labourers()[0]

    assert tm.invoke_task(labourer, task_id=ids[0]) is True
    task = tm.get_task_by_id(ids[1])
    assert tm.invoke_task(labourer, task=task) is True
    env.wait()
    # Again: skipped without error, whether fetched afresh or given as the old item.
    assert tm.invoke_task(labourer, task_id=ids[0]) is False
    assert tm.invoke_task(labourer, task=task) is False
    env.clock.advance(1)
    assert tm.invoke_task(tm.register_labourers()[0], task_id=ids[1]) is False
    env.wait()

    tasks = by_id(TASKS)
    assert all(tasks[i]["attempts"] == 1 and tasks[i]["greenfield"] == env.clock.now - 1 + DELTA for i in ids)
    assert env.invoked_task_ids("w") == {ids[0]: 1, ids[1]: 1}
    assert env.invocations_of("w")[0]["payload"] == {"n": 0, "task_id": ids[0]}
    with pytest.raises(InvalidTask):
        tm.invoke_task(labourer, task_id="missing")
    with pytest.raises(InvalidInput):
        tm.invoke_task(labourer)


def test_mark_task_invoked(env, tm):
    [task_id] = tm.create_tasks(tm.get_labourer("w"), [{"n": 1}])
    labourer = tm.register_labourers()[0]
    task = tm.get_task_by_id(task_id)

    tm.mark_task_invoked(labourer, task)

    assert task["greenfield"] == env.clock.now + DELTA
    stored = by_id(TASKS)[task_id]
    assert stored["greenfield"] == env.clock.now + DELTA and stored["attempts"] == 1
    with pytest.raises(ConditionCheckFailed):
        tm.mark_task_invoked(labourer, tm.get_task_by_id(task_id))
    with pytest.raises(ConditionCheckFailed):
        tm.mark_task_invoked(labourer, {**stored, "greenfield": FIRST + STEP})  # the old item
    assert by_id(TASKS)[task_id]["attempts"] == 1
    tm.mark_task_invoked(labourer, tm.get_task_by_id(task_id), check_running=False)
    assert by_id(TASKS)[task_id]["attempts"] == 2


def test_create_task(env, tm):
    labourer = tm.get_labourer("w")
    first = tm.create_task(labourer, payload={"a": 1}, b=2)["task_id"]
    second = tm.create_task(labourer, payload='{"c": 3}', labourer_id="w")["task_id"]
    tasks = by_id(TASKS)
    assert json.loads(tasks[first]["payload"]) == {"a": 1, "b": 2}
    assert json.loads(tasks[second]["payload"]) == {"c": 3}
    assert tasks[first]["greenfield"] == FIRST + STEP and tasks[second]["greenfield"] == FIRST + 2 * STEP
    assert tasks[first]["attempts"] == 0 and tasks[first]["created_at"] == env.clock.now
    assert tasks[first]["labourer_id"] == "w"

    for field, value in (("task_id", "mine"), ("greenfield", 5), ("attempts", 3), ("created_at", 1),
                         ("labourer_id", "other")):
        with pytest.raises(InvalidInput) as raised:
            tm.create_task(labourer, **{field: value})
        assert raised.value.field == field
    with pytest.raises(InvalidInput) as raised:
        tm.create_task(labourer, payload="[1, 2]")
    assert raised.value.field == "payload"
    with pytest.raises(InvalidInput):
        tm.create_task(labourer, payload="x" * (MAX_PAYLOAD_BYTES + 1))
    assert len(scan_all(TASKS)) == 2

    # Not strict: generated fields are stored as given.
    custom = tm.create_task(labourer, strict=False, task_id="mine", greenfield=500, n=1)
    assert custom["task_id"] == "mine" and custom["greenfield"] == 500
    assert by_id(TASKS)["mine"]["greenfield"] == 500
    assert tm.get_next_for_labourer(labourer, only_ids=True) == ["mine"]


def test_create_tasks_validates_everything_before_writing(env, tm):
    labourer = tm.get_labourer("w")
    for payloads, index in (([{"ok": 1}, "not json", {"ok": 2}], 1),
                            ([{"ok": 1}, {"ok": 2}, [1, 2]], 2),
                            (["[]"], 0),
                            ([{"ok": 1}, {"big": "x" * MAX_PAYLOAD_BYTES}], 1)):
        with pytest.raises(InvalidInput) as raised:
            tm.create_tasks(labourer, payloads)
        assert raised.value.field == f"payloads[{index}]"
        assert f"payloads[{index}]" in str(raised.value)
    with pytest.raises(InvalidInput) as raised:
        tm.create_tasks(labourer, [{"a": 1}], task_ids=["x", "y"])
    assert raised.value.field == "task_ids"
    assert scan_all(TASKS) == [] and scan_all(constants.META_TABLE) == []
    assert tm.create_tasks(labourer, []) == []


def test_create_tasks_with_ids_skips_existing_in_every_table(env, tm):
    labourer = tm.get_labourer("w")
    assert tm.create_tasks(labourer, [{"n": 0}, {"n": 1}, {"n": 2}], task_ids=["t0", "t1", "t2"]) == ["t0", "t1", "t2"]
    labourer = tm.register_labourers()[0]
    # t0 completed and archived, t1 expired and waiting in the retry table, t2 queued.
    tm.invoke_tasks(labourer, tm.get_next_for_labourer(labourer, cnt=2))
    tm.mark_task_as_completed("t0")
    assert tm.archive_task("t0") is True
    env.clock.advance(EXPIRY + 1)
    labourer = tm.register_labourers()[0]
    [expired] = tm.get_expired_tasks_for_labourer(labourer)
    tm.move_task_to_retry_table(expired, 100)
    env.wait()

    created = tm.create_tasks(labourer, [{"n": i} for i in range(5)], task_ids=["t0", "t1", "t2", "t3", "t4"],
                              skip_existing=True)

    assert created == ["t3", "t4"]
    assert sorted(by_id(TASKS)) == ["t2", "t3", "t4"]
    assert sorted(by_id(RETRY)) == ["t1"] and sorted(by_id(CLOSED)) == ["t0"]
    assert by_id(TASKS)["t3"]["greenfield"] == FIRST + 4 * STEP
    assert tm.create_tasks(labourer, [{"n": 3}], task_ids=["t3"], skip_existing=True) == []
    assert len(scan_all(TASKS)) == 3


def test_get_labourer(env, tm):
    labourer = tm.get_labourer("w")
    assert labourer.id == "w" and labourer.max_simultaneous_invocations == 5
    assert labourer.duration == DURATION and labourer.cooldown == COOLDOWN
    assert labourer.get_attr("start") == env.clock.now
    assert tm.get_labourer(f"{ARN}w").id == "w"
    assert tm.get_labourer(f"{ARN}other:$LATEST").id == "other"
    for name in ("nobody", f"{ARN}nobody"):
        with pytest.raises(LabourerNotFound) as raised:
            tm.get_labourer(name)
        assert raised.value.field == "labourer_id"
    assert [lab.id for lab in tm.get_labourers()] == ["w", "other"]


def test_durations_from_closed_tasks(env, tm):
    labourer = tm.get_labourer("w")
    assert tm.get_average_labourer_duration(labourer) == 0  # nothing closed yet
    assert tm.get_max_labourer_duration(labourer) == DURATION
    ids = tm.create_tasks(labourer, [{"n": i} for i in range(3)])
    labourer = tm.register_labourers()[0]
    tm.invoke_tasks(labourer, tm.get_next_for_labourer(labourer, cnt=3))
    for task_id, seconds in zip(ids, (4, 7, 13)):
        env.clock.advance(seconds - (env.clock.now - labourer.get_attr("start")))
        tm.mark_task_as_completed(task_id)
    env.wait()
    assert tm.archive_many(tm.get_completed_tasks_for_labourer(labourer)) and scan_all(TASKS) == []

    assert tm.get_average_labourer_duration(labourer) == 8
    assert tm.get_max_labourer_duration(labourer) == 13
    assert tm.ecology_client.get_labourer_average_duration(labourer) == 8
    assert tm.ecology_client.get_max_labourer_duration(labourer) == 10  # the function's timeout
    assert tm.get_max_labourer_duration(tm.get_labourer("other")) == DURATION  # none closed: its duration


# Renamed attributes ---------------------------------------------------------------------------------------------------

RENAMED = {"task_id": "tid", "labourer_id": "lab", "greenfield": "gf"}


def renamed_tables():
    client = boto3.client("dynamodb")

    def create(name, keys, index_name, index_keys):
        attrs = {a: t for a, t in keys + index_keys}
        schema = [{"AttributeName": keys[0][0], "KeyType": "HASH"}]
        if len(keys) > 1:
            schema.append({"AttributeName": keys[1][0], "KeyType": "RANGE"})
        client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=schema,
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attrs.items()],
            GlobalSecondaryIndexes=[{"IndexName": index_name, "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
                {"AttributeName": index_keys[0][0], "KeyType": "HASH"},
                {"AttributeName": index_keys[1][0], "KeyType": "RANGE"}]}])

    create("my_tasks", [("tid", "S")], "my_tasks_gf", [("lab", "S"), ("gf", "N")])
    create("my_closed", [("tid", "S")], "my_closed_status", [("labourer_id_task_status", "S"), ("closed_at", "N")])
    create("my_retry", [("lab", "S"), ("tid", "S")], "my_retry_time", [("lab", "S"), ("desired_launch_time", "N")])


def test_field_names_and_tables_are_configurable(lifecycle):
    renamed_tables()
    env = lifecycle(
        {"w": {"max_simultaneous_invocations": 2}, "lazy": {"max_simultaneous_invocations": 2}},
        workers={"w": EchoWorker, "lazy": SilentWorker},
        dynamo_db_config={"table_name": "my_tasks", "index_greenfield": "my_tasks_gf", "field_names": RENAMED},
        sosw_closed_tasks_table="my_closed", sosw_closed_tasks_labourer_status_index="my_closed_status",
        sosw_retry_tasks_table="my_retry", sosw_retry_tasks_greenfield_index="my_retry_time",
    )
    tm = env.task_manager()
    assert tm.get_db_field_name("greenfield") == "gf" and tm.get_db_field_name("attempts") == "attempts"
    done = tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(3)])
    lazy = tm.create_tasks(tm.get_labourer("lazy"), [{"n": 1}, {"n": 2}])
    rows = {row["tid"]: row for row in scan_all("my_tasks")}
    assert sorted(rows) == sorted(done + lazy)
    assert all("greenfield" not in r and "task_id" not in r and "labourer_id" not in r for r in rows.values())
    assert [rows[i]["gf"] for i in done] == [FIRST + STEP, FIRST + 2 * STEP, FIRST + 3 * STEP]
    assert tm.get_newest_greenfield_for_labourer(tm.get_labourer("w")) == FIRST + 3 * STEP

    orchestrator, scavenger = env.orchestrator(), env.scavenger()
    assert orchestrator({}) == {"w": 2, "lazy": 2}
    env.wait()
    assert all("completed_at" in r for t, r in ((r["tid"], r) for r in scan_all("my_tasks")) if t in done[:2])
    env.clock.advance(EXPIRY + 1)
    scavenger({})

    closed = {row["tid"]: row for row in scan_all("my_closed")}
    assert sorted(closed) == sorted(done[:2])
    assert all(r["labourer_id_task_status"] == "w_1" and r["lab"] == "w" for r in closed.values())
    retry = {row["tid"]: row for row in scan_all("my_retry")}
    assert sorted(retry) == sorted(lazy)
    assert sorted(r["tid"] for r in scan_all("my_tasks")) == [done[2]]
    for table in (TASKS, CLOSED, RETRY):
        assert scan_all(table) == []

    env.clock.advance(3600)
    scavenger({})
    assert scan_all("my_retry") == []
    assert orchestrator({}) == {"w": 1, "lazy": 2}
    env.wait()
    env.clock.advance(1)
    scavenger({})
    assert sorted(r["tid"] for r in scan_all("my_closed")) == sorted(done)
    assert sorted(r["tid"] for r in scan_all("my_tasks")) == sorted(lazy)
    assert all(r["attempts"] == 2 for r in scan_all("my_tasks"))
