"""
Kicks (sosw.components.kick) and the kicked Orchestrator's session (sosw._kick_session), against the moto server and
the local Lambda service: no ticker runs, so only kicks dispatch.
"""

import json
import threading
import time
from unittest.mock import MagicMock

import boto3
import pytest

from sosw import constants
from sosw.app import get_lambda_handler
from sosw.components.kick import KICK_SOURCE, Kicker, KickSettings, kick_labourer
from sosw.exceptions import ConfigError
from sosw.local.lambda_service import LocalLambdaService
from sosw.managers._greenfield import LEASE_EXPIRES_AT, LEASE_OWNER, LEASE_PREFIX
from sosw.managers.task import TaskManager
from sosw.orchestrator import Orchestrator
from sosw.scheduler import Scheduler
from sosw.worker import Worker
from sosw.worker_assistant import WorkerAssistant
from tests.integration.conftest import scan_all

pytestmark = pytest.mark.integration

LABOURER = "kick_worker"
LIMIT = 2
TASK_CONFIG = {"labourers": {LABOURER: {"max_simultaneous_invocations": LIMIT, "duration": 30, "cooldown": 5}}}
ESSENTIAL = {"task_config": TASK_CONFIG, "meta_handler_config": {"write_meta_to_ddb": False}, "metrics": False}


@pytest.fixture
def lambdas(aws, sosw_tables, monkeypatch):
    with LocalLambdaService(async_retry_delays=(0.1, 0.1)) as service:
        for name, value in service.environ().items():
            monkeypatch.setenv(name, value)
        yield service


class Running:
    """Workers running now, and the most at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.peak = self.done = 0

    def worker(self, seconds: float):
        running = self

        class SleepyWorker(Worker):
            def __call__(self, event):
                with running.lock:
                    running.now += 1
                    running.peak = max(running.peak, running.now)
                time.sleep(seconds)
                with running.lock:
                    running.now -= 1
                    running.done += 1
                return super().__call__(event)

        return SleepyWorker


def register(lambdas, running, seconds=0.2, kicks=True):
    config = {**ESSENTIAL, "kick_orchestrator": kicks}
    lambdas.register(LABOURER, get_lambda_handler(running.worker(seconds), custom_config={}), timeout=30)
    lambdas.register(constants.WORKER_ASSISTANT_LAMBDA, get_lambda_handler(WorkerAssistant, custom_config=config),
                     timeout=30)
    lambdas.register("sosw_orchestrator", get_lambda_handler(Orchestrator, custom_config=config), timeout=60)
    return config


def schedule(config, count):
    scheduler = Scheduler(custom_config={**config, "job_schema": {"chunkable_attrs": ["mark"]},
                                         "task_config": {**TASK_CONFIG, "read_labourer_timeout": False}})
    return scheduler({"job": {"lambda_name": LABOURER, "marks": [f"m{i}" for i in range(count)],
                              "isolate_marks": True}}), scheduler


def wait_for(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def test_a_scheduled_job_runs_to_the_end_on_kicks_alone_within_the_limit(lambdas):
    running = Running()
    config = register(lambdas, running)

    result, scheduler = schedule(config, 7)

    assert result["tasks_created"] == 7 and scheduler.stats["kicks"] == 1
    assert wait_for(lambda: running.done == 7), f"{running.done} of 7 ran with no schedule"
    assert running.peak <= LIMIT
    lambdas.wait_idle(15)
    tasks = [t for t in scan_all(constants.TASKS_TABLE) if t.get("labourer_id") == LABOURER]
    assert len(tasks) == 7 and all(t.get("completed_at") for t in tasks)
    assert not [t for t in scan_all(constants.TASKS_TABLE) if t["task_id"] == f"{LEASE_PREFIX}{LABOURER}"], \
        "the session gave its dispatch lease back"


def test_with_kicks_off_nothing_starts_before_the_orchestrator_runs(lambdas):
    running = Running()
    config = register(lambdas, running, kicks=False)

    result, scheduler = schedule(config, 3)
    time.sleep(1.0)

    assert result["tasks_created"] == 3 and "kicks" not in scheduler.stats
    assert running.done == 0 and lambdas.stats.get("sosw_orchestrator", {}).get("invoked", 0) == 0


def test_a_kick_finds_the_lease_held_and_dispatches_nothing(lambdas):
    running = Running()
    config = register(lambdas, running)
    TaskManager(custom_config=TASK_CONFIG).create_tasks(TaskManager(custom_config=TASK_CONFIG).get_labourer(LABOURER),
                                                        [{"n": 1}])
    boto3.client("dynamodb").put_item(TableName=constants.TASKS_TABLE, Item={
        "task_id": {"S": f"{LEASE_PREFIX}{LABOURER}"}, LEASE_OWNER: {"S": "someone"},
        LEASE_EXPIRES_AT: {"N": str(int(time.time()) + 60)}})
    orchestrator = Orchestrator(custom_config=config)

    assert orchestrator({"source": KICK_SOURCE, "labourer_id": LABOURER}) == {LABOURER: 0}
    assert orchestrator.stats["kick_sessions_busy"] == 1
    time.sleep(0.3)
    assert running.done == 0


def test_a_session_out_of_time_with_tasks_queued_kicks_a_fresh_one(lambdas):
    running = Running()
    config = register(lambdas, running, seconds=3)
    manager = TaskManager(custom_config=TASK_CONFIG)
    manager.create_tasks(manager.get_labourer(LABOURER), [{"n": i} for i in range(4)])
    orchestrator = Orchestrator(custom_config={**config, "kick_session_seconds": 0.5})
    orchestrator.task_client.lambda_client = lambda_client = MagicMock()

    assert orchestrator({"source": KICK_SOURCE, "labourer_id": LABOURER}) == {LABOURER: LIMIT}

    payloads = [json.loads(call.kwargs["Payload"]) for call in lambda_client.invoke.call_args_list
                if call.kwargs["FunctionName"] == "sosw_orchestrator"]
    assert payloads == [{"source": KICK_SOURCE, "labourer_id": LABOURER}]


def test_a_worker_assistant_kick_that_fails_leaves_the_completion_recorded(lambdas):
    manager = TaskManager(custom_config=TASK_CONFIG)
    labourer = manager.register_labourers()[0]
    task_id = manager.create_tasks(labourer, [{"n": 1}])[0]
    manager.invoke_tasks(labourer, manager.get_next_for_labourer(labourer, cnt=1))
    assistant = WorkerAssistant(custom_config={**ESSENTIAL, "sosw_orchestrator_lambda": "no_such_function"})

    assert assistant({"action": "mark_task_as_completed", "task_id": task_id}) == {
        "task_id": task_id, "status": "completed"}
    assert assistant.stats["kick_failures"] == 1 and "kicks" not in assistant.stats


def test_the_kicker_debounces_per_labourer_and_can_be_turned_off():
    client, stats, now = MagicMock(), {"kicks": 0, "kicks_debounced": 0}, [100.0]
    kicker = Kicker(KickSettings(debounce_seconds=5), lambda: client, lambda: stats, clock=lambda: now[0])

    assert kicker.kick("a") and not kicker.kick("a") and kicker.kick("b") and kicker.kick("a", debounce=False)
    now[0] += 5
    assert kicker.kick("a")
    assert stats == {"kicks": 4, "kicks_debounced": 1}
    assert json.loads(client.invoke.call_args.kwargs["Payload"]) == {"source": KICK_SOURCE, "labourer_id": "a"}
    assert client.invoke.call_args.kwargs["InvocationType"] == "Event"
    off = Kicker(KickSettings(enabled=False), lambda: client, lambda: stats)
    assert not off.kick("a") and client.invoke.call_count == 4


@pytest.mark.parametrize("key, value", [("kick_orchestrator", "yes"), ("sosw_orchestrator_lambda", ""),
                                        ("kick_debounce_seconds", -1)])
def test_bad_kick_config_names_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        KickSettings.from_config({key: value}, "sosw_worker_assistant_config")


def test_only_a_kick_names_a_labourer():
    assert kick_labourer({"source": KICK_SOURCE, "labourer_id": "w"}) == "w"
    assert kick_labourer({"source": "aws.events", "labourer_id": "w"}) is None
    assert kick_labourer({"source": KICK_SOURCE}) is None


def lease_item():
    return boto3.client("dynamodb").get_item(TableName=constants.TASKS_TABLE, ConsistentRead=True, Key={
        "task_id": {"S": f"{LEASE_PREFIX}{LABOURER}"}}).get("Item")


def take_lease(owner, seconds=60):
    boto3.client("dynamodb").put_item(TableName=constants.TASKS_TABLE, Item={
        "task_id": {"S": f"{LEASE_PREFIX}{LABOURER}"}, LEASE_OWNER: {"S": owner},
        LEASE_EXPIRES_AT: {"N": str(int(time.time()) + seconds)}})


def test_a_dispatch_under_a_lease_taken_over_marks_nothing(lambdas):
    # Found by the chaos run (11 running for a limit of 10): a kick session outlived its dispatch lease, another
    # Orchestrator took the lease, and both filled the limit. Each transaction now checks the lease is the caller's.
    running = Running()
    register(lambdas, running)
    manager = TaskManager(custom_config=TASK_CONFIG)
    manager.create_tasks(manager.get_labourer(LABOURER), [{"n": i} for i in range(3)])
    labourer = manager.register_labourers(health=False)[0]
    take_lease("the new holder")
    queued = manager.get_next_for_labourer(labourer, cnt=3)

    assert manager.invoke_tasks(labourer, queued, room=LIMIT, lease_owner="the old holder") == []
    assert manager.stats["guard_failures"] == 1
    assert len(manager.get_next_for_labourer(labourer, cnt=3)) == 3  # all still queued

    take_lease("the old holder")
    assert len(manager.invoke_tasks(labourer, queued, room=LIMIT, lease_owner="the old holder")) == LIMIT


def test_a_session_renews_its_lease_and_ends_when_it_was_taken_over(lambdas):
    from sosw._kick_session import KickSession

    running = Running()
    config = register(lambdas, running)
    orchestrator = Orchestrator(custom_config={**config, "task_config": {**TASK_CONFIG,
                                                                         "dispatch_lease_seconds": 3}})
    labourer = orchestrator.task_client.register_labourers(health=False)[0]
    session = KickSession(orchestrator, labourer, budget=40)
    assert session._claim()
    first_expiry = int(lease_item()[LEASE_EXPIRES_AT]["N"])
    assert first_expiry <= int(time.time()) + 3  # capped by dispatch_lease_seconds, shorter than the budget

    time.sleep(1.1)  # a third of the lease or less left: renewed before the next dispatch
    assert session._keep_lease()
    assert int(lease_item()[LEASE_EXPIRES_AT]["N"]) > first_expiry
    assert orchestrator.stats["kick_session_lease_renewals"] == 1

    take_lease("another Orchestrator")
    time.sleep(1.1)
    assert not session._keep_lease()
    assert orchestrator.stats["kick_session_lease_lost"] == 1
    assert lease_item()[LEASE_OWNER]["S"] == "another Orchestrator"
