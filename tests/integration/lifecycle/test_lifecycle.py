"""
The whole life of tasks, read from the tables at every step: queued -> invoked -> completed -> closed; expired ->
retry table -> head of the queue -> invoked again; failed too often -> closed dead with an SNS message.
"""

import json

from sosw import constants
from tests.integration.conftest import received, scan_all, subscribed_queue
from tests.integration.lifecycle.conftest import (
    DURATION,
    EXPIRY,
    MIN_RETRY_DELAY,
    EchoWorker,
    FailingWorker,
    SilentWorker,
    by_id,
    meta_actions,
)

DELTA = constants.GREENFIELD_INVOCATION_DELTA
STEP = constants.GREENFIELD_TASK_STEP
TASKS, CLOSED, RETRY = constants.TASKS_TABLE, constants.CLOSED_TASKS_TABLE, constants.RETRY_TASKS_TABLE


def test_300_tasks_of_3_labourers_go_queued_invoked_completed_closed(lifecycle):
    limits = {"alpha": 40, "beta": 50, "gamma": 60}
    env = lifecycle({name: {"max_simultaneous_invocations": limit} for name, limit in limits.items()},
                    workers={name: EchoWorker for name in limits})
    tm = env.task_manager()
    created = {}
    for name in limits:
        created[name] = tm.create_tasks(tm.get_labourer(name), [{"n": i, "of": name} for i in range(100)])

    # Queued: all 300 in sosw_tasks, greenfields ascending per labourer from 1000 + step, step 1000, no attempt yet.
    tasks = by_id(TASKS)
    assert len(tasks) == 300
    for name, ids in created.items():
        assert [int(tasks[i]["greenfield"]) for i in ids] == [1000 + STEP * k for k in range(1, 101)]
        assert all(tasks[i]["labourer_id"] == name and tasks[i]["attempts"] == 0 for i in ids)
        assert all(json.loads(tasks[i]["payload"])["n"] == k for k, i in enumerate(ids))
        assert all("completed_at" not in tasks[i] for i in ids)
    assert scan_all(CLOSED) == [] and scan_all(RETRY) == []

    orchestrator, scavenger = env.orchestrator(), env.scavenger()
    closed_so_far = set()
    for run in range(1, 4):
        now = env.clock.advance(1)
        result = orchestrator({})
        remaining = {name: [i for i in ids if i not in closed_so_far] for name, ids in created.items()}
        expected = {name: min(limits[name], len(remaining[name])) for name in limits}
        assert result == {name: n for name, n in expected.items()}, f"run {run}"

        # Invoked: the oldest queued tasks of each labourer, greenfield at the invoked mark, one attempt each.
        tasks = by_id(TASKS)
        assert len(tasks) == 300 - len(closed_so_far)
        invoked = {}
        for name in limits:
            invoked[name] = [i for i in remaining[name] if tasks[i]["attempts"] == 1]
            assert invoked[name] == remaining[name][:expected[name]], f"run {run}: {name} invoked out of order"
            assert all(tasks[i]["greenfield"] >= now + DELTA for i in invoked[name])
            queued = [i for i in remaining[name] if i not in invoked[name]]
            assert all(tasks[i]["attempts"] == 0 and tasks[i]["greenfield"] < now for i in queued)

        # Completed: the Workers reported through the WorkerAssistant.
        env.wait()
        tasks = by_id(TASKS)
        for name in limits:
            for task_id in invoked[name]:
                task = tasks[task_id]
                assert int(task["completed_at"]) == now
                assert task["stat_rows_processed"] == 1
                assert task["result_n"] == json.loads(task["payload"])["n"]
            assert not any("completed_at" in tasks[i] for i in remaining[name] if i not in invoked[name])

        # Closed: archived as <labourer>_1 and gone from sosw_tasks.
        scavenger({})
        closed = by_id(CLOSED)
        tasks = by_id(TASKS)
        for name in limits:
            for task_id in invoked[name]:
                assert task_id not in tasks
                assert closed[task_id]["labourer_id_task_status"] == f"{name}_1"
                assert closed[task_id]["closed_at"] == now
                assert closed[task_id]["attempts"] == 1
            closed_so_far.update(invoked[name])
        assert set(closed) == closed_so_far

    assert scan_all(TASKS) == [] and scan_all(RETRY) == []
    assert len(scan_all(CLOSED)) == 300
    events = meta_actions()
    assert len(events) == 300
    # Each event once per task (their order: test_event_log_keeps_the_order_of_events).
    lifecycle_events = ["archived", "completed", "created", "invoked"]
    assert all(sorted(actions) == lifecycle_events for actions in events.values()), \
        {t: a for t, a in events.items() if sorted(a) != lifecycle_events}
    # Every Worker ran once per task, and reported once.
    for name in limits:
        assert set(env.invoked_task_ids(name).values()) == {1}
    assert env.service.stats["sosw_worker_assistant"]["succeeded"] == 300


def test_event_log_keeps_the_order_of_events(lifecycle):
    """A fast Worker completes its task within the second it was invoked in: the log must still say invoked, then
    completed (``get_task_events`` reads it ordered by ``created_at``)."""
    env = lifecycle({"w": {"max_simultaneous_invocations": 5}}, workers={"w": EchoWorker})
    tm = env.task_manager()
    [task_id] = tm.create_tasks(tm.get_labourer("w"), [{"n": 1}])
    env.clock.advance(1)
    env.orchestrator()({})
    env.wait()
    env.clock.advance(1)
    env.scavenger()({})

    events = tm.meta_handler_client.get_task_events(task_id)
    assert [e["action"] for e in events] == ["created", "invoked", "completed", "archived"], events


def test_expired_task_waits_in_retry_table_then_returns_to_the_head_of_the_queue(lifecycle):
    env = lifecycle({"lazy": {"max_simultaneous_invocations": 1}}, workers={"lazy": SilentWorker})
    tm = env.task_manager()
    ids = tm.create_tasks(tm.get_labourer("lazy"), [{"n": i} for i in range(4)])
    first, rest = ids[0], ids[1:]
    orchestrator, scavenger = env.orchestrator(), env.scavenger()

    assert orchestrator({}) == {"lazy": 1}
    env.wait()
    assert by_id(TASKS)[first]["attempts"] == 1
    # Still running (within duration + cooldown): the Scavenger leaves it, the Orchestrator invokes nothing more.
    env.clock.advance(EXPIRY - 1)
    assert scavenger({}) == {}
    assert orchestrator({}) == {"lazy": 0}

    delays = []
    for attempt in (1, 2):
        now = env.clock.advance(EXPIRY + 1)
        scavenger({})
        tasks, retry = by_id(TASKS), by_id(RETRY)
        assert first not in tasks, f"attempt {attempt}"
        assert retry[first]["attempts"] == attempt
        delay = int(retry[first]["desired_launch_time"]) - now
        delays.append(delay)
        assert delay == max(DURATION, MIN_RETRY_DELAY) * attempt
        assert sorted(tasks) == sorted(rest)

        # Not due yet: stays in the retry table.
        env.clock.advance(delay - 1)
        scavenger({})
        assert first in by_id(RETRY) and first not in by_id(TASKS)

        # Due: back in sosw_tasks at the head of the queue, below the oldest queued task.
        env.clock.advance(1)
        scavenger({})
        tasks = by_id(TASKS)
        assert by_id(RETRY) == {}
        assert "desired_launch_time" not in tasks[first]
        assert tasks[first]["greenfield"] < min(tasks[i]["greenfield"] for i in rest)
        assert tasks[first]["attempts"] == attempt

        # And invoked next, before the tasks that waited in the queue.
        assert orchestrator({}) == {"lazy": 1}
        env.wait()
        tasks = by_id(TASKS)
        assert tasks[first]["attempts"] == attempt + 1
        assert all(tasks[i]["attempts"] == 0 for i in rest)
    assert delays[1] > delays[0]
    assert env.invoked_task_ids("lazy") == {first: 3}
    assert meta_actions()[first] == ["created", "invoked", "moved_to_retry", "retried", "invoked",
                                     "moved_to_retry", "retried", "invoked"]


def _run_until_dead(env, task_id, max_attempts):
    orchestrator, scavenger = env.orchestrator(), env.scavenger()
    for attempt in range(1, max_attempts + 1):
        assert orchestrator({})["lazy"] == 1, f"attempt {attempt}"
        env.wait()
        env.clock.advance(EXPIRY + 1)
        scavenger({})
        if attempt < max_attempts:
            assert task_id in by_id(RETRY), f"attempt {attempt}"
            env.clock.advance(10 * DURATION * attempt)
            scavenger({})
            assert task_id in by_id(TASKS)
    return scavenger


def test_task_failing_max_attempts_times_is_closed_dead_with_one_sns_message(lifecycle):
    queue = subscribed_queue(constants.DEAD_SNS_TOPIC)
    env = lifecycle({"lazy": {"max_simultaneous_invocations": 5}}, workers={"lazy": SilentWorker})
    tm = env.task_manager()
    [task_id] = tm.create_tasks(tm.get_labourer("lazy"), [{"n": 1}])

    scavenger = _run_until_dead(env, task_id, constants.DEFAULT_MAX_ATTEMPTS)

    assert by_id(TASKS) == {} and by_id(RETRY) == {}
    closed = by_id(CLOSED)[task_id]
    assert closed["labourer_id_task_status"] == "lazy_0"
    assert closed["attempts"] == constants.DEFAULT_MAX_ATTEMPTS
    assert closed["closed_at"] == env.clock.now
    assert meta_actions()[task_id][-1] == "archived_dead"
    assert meta_actions()[task_id].count("archived_dead") == 1
    [message] = received(queue)
    assert message["TopicArn"].endswith(f":{constants.DEAD_SNS_TOPIC}")
    body = json.loads(message["Message"])
    assert body["task_id"] == task_id and body["labourer_id"] == "lazy"
    assert body["attempts"] == constants.DEFAULT_MAX_ATTEMPTS

    # Later runs find nothing more to do and send nothing more.
    env.clock.advance(1000)
    scavenger({})
    assert received(queue) == []
    assert len(scan_all(CLOSED)) == 1


def test_max_attempts_per_labourer_overrides_the_default(lifecycle):
    queue = subscribed_queue(constants.DEAD_SNS_TOPIC)
    env = lifecycle({"lazy": {"max_simultaneous_invocations": 5}}, workers={"lazy": SilentWorker},
                    max_attempts_lazy=1)
    tm = env.task_manager()
    [task_id] = tm.create_tasks(tm.get_labourer("lazy"), [{"n": 1}])

    _run_until_dead(env, task_id, 1)

    closed = by_id(CLOSED)[task_id]
    assert closed["labourer_id_task_status"] == "lazy_0" and closed["attempts"] == 1
    assert by_id(RETRY) == {} and by_id(TASKS) == {}
    assert len(received(queue)) == 1
    assert meta_actions()[task_id] == ["created", "invoked", "archived_dead"]


def test_task_marked_failed_expires_at_the_next_scavenger_run_and_is_retried(lifecycle):
    env = lifecycle({"flaky": {"max_simultaneous_invocations": 5}}, workers={"flaky": FailingWorker})
    tm = env.task_manager()
    [task_id] = tm.create_tasks(tm.get_labourer("flaky"), [{"n": 1}])
    orchestrator, scavenger = env.orchestrator(), env.scavenger()

    orchestrator({})
    env.wait()
    task = by_id(TASKS)[task_id]
    assert task["failed_attempts"] == 1 and task["result_error"] == "boom" and "completed_at" not in task
    # No waiting for duration + cooldown: the very next Scavenger run sees it expired, and it no longer counts as
    # running for the Orchestrator.
    assert tm.get_count_of_running_tasks_for_labourer(tm.register_labourers()[0]) == 0
    now = env.clock.advance(1)
    scavenger({})
    retry = by_id(RETRY)[task_id]
    assert retry["attempts"] == 1 and retry["desired_launch_time"] > now
    env.clock.advance(int(retry["desired_launch_time"]) - now)
    scavenger({})
    assert by_id(TASKS)[task_id]["attempts"] == 1
    orchestrator({})
    env.wait()
    assert by_id(TASKS)[task_id]["attempts"] == 2 and by_id(TASKS)[task_id]["failed_attempts"] == 2
    assert meta_actions()[task_id] == ["created", "invoked", "failed", "moved_to_retry", "retried", "invoked",
                                       "failed"]
