"""The Worker's start guard on the moto server: the TaskManager invokes a Worker through the local Lambda service,
the invocation's real payload is delivered again (Lambda's at-least-once delivery and retries), late, or to a
Worker configured without the guard, and the test counts how many times the Worker's own code ran and asserts what
the tasks table holds."""

import json
import logging
import threading
from types import SimpleNamespace
from typing import Dict, List

import boto3
import pytest

from sosw.app import get_lambda_handler
from sosw.local.lambda_service import LocalLambdaService
from sosw.managers.task import TaskManager
from sosw.worker import Worker
from tests.integration.conftest import scan_all

LABOURER = "guarded_worker"
TASK_CONFIG = {"labourers": {LABOURER: {"duration": 60, "cooldown": 10}}, "read_labourer_timeout": False}
CONTEXT = SimpleNamespace(invoked_function_arn=f"arn:aws:lambda:us-west-2:123456789012:function:{LABOURER}",
                          function_name=LABOURER, aws_request_id="req")


class CountingWorker(Worker):
    """Records each run of its body, then reports the task completed as every Worker does."""

    runs: List[str] = []

    def __call__(self, event):
        type(self).runs.append(event["task_id"])
        return super().__call__(event)


class BaseCountingWorker(Worker):
    runs: List[str] = []

    def __call__(self, event):
        type(self).runs.append("base")
        return super().__call__(event)


class ChildCountingWorker(BaseCountingWorker):
    """A Worker two classes below Worker: its ``__call__`` reaches its parent's through ``super()``."""

    def __call__(self, event):
        type(self).runs.append("child")
        return super().__call__(event)


@pytest.fixture(autouse=True)
def fresh_runs():
    CountingWorker.runs = []
    ChildCountingWorker.runs = []


@pytest.fixture
def lambdas(aws, monkeypatch):
    """The local Lambda service: the Labourer's function records the events the TaskManager sends; the
    WorkerAssistant records the Worker's reports."""
    service = LocalLambdaService(async_retry_delays=(0.05, 0.05)).start()
    for name, value in service.environ().items():
        monkeypatch.setenv(name, value)
    service.sent: List[Dict] = []
    service.register(LABOURER, lambda event, context: service.sent.append(event))
    service.register("sosw_worker_assistant", lambda event, context: {"status": "recorded"})
    yield service
    service.stop()


@pytest.fixture
def task_manager(sosw_tables, lambdas):
    return TaskManager(custom_config=json.loads(json.dumps(TASK_CONFIG)))


def invoke(task_manager: TaskManager, lambdas: LocalLambdaService, task_id: str) -> Dict:
    """Invoke the Labourer for the queued task ``task_id`` as the Orchestrator does; the event it received."""
    labourer = task_manager.register_labourers(health=False)[0]
    queued = [t for t in task_manager.get_next_for_labourer(labourer, cnt=100) if t["task_id"] == task_id]
    assert task_manager.invoke_tasks(labourer, queued) == [task_id]
    assert lambdas.wait_idle(10)
    return lambdas.sent[-1]


def new_task(task_manager: TaskManager) -> str:
    (task_id,) = task_manager.create_tasks(task_manager.get_labourer(LABOURER), [{"n": 1}])
    return task_id


def reports(lambdas: LocalLambdaService) -> List[Dict]:
    assert lambdas.wait_idle(10)
    return [r["payload"] for r in lambdas.invocations if r["function"] == "sosw_worker_assistant"]


def task(task_id: str) -> Dict:
    return boto3.resource("dynamodb").Table("sosw_tasks").get_item(Key={"task_id": task_id}, ConsistentRead=True)[
        "Item"]


def test_the_invocation_payload_names_the_attempt_the_task_is_on(task_manager, lambdas):
    task_id = new_task(task_manager)

    event = invoke(task_manager, lambdas, task_id)

    item = task(task_id)
    invoked_at = int(item["greenfield"]) - task_manager.settings.greenfield_invocation_delta
    assert event == {"n": 1, "task_id": task_id,
                     "sosw_attempt": {"number": 1, "greenfield": int(item["greenfield"]), "table": "sosw_tasks",
                                      "start_by": invoked_at + 10 + 1}}  # cooldown 10
    assert item["attempts"] == 1 and "claimed_attempt" not in item


def test_a_repeated_delivery_of_an_attempt_runs_the_body_once(task_manager, lambdas, caplog):
    task_id = new_task(task_manager)
    event = invoke(task_manager, lambdas, task_id)
    handler = get_lambda_handler(CountingWorker)

    with caplog.at_level(logging.WARNING, logger="sosw.worker"):
        for _delivery in range(3):
            handler(json.loads(json.dumps(event)), CONTEXT)

    assert CountingWorker.runs == [task_id]
    assert [r["action"] for r in reports(lambdas)] == ["mark_task_as_completed"]  # the repeats report nothing
    item = task(task_id)
    assert item["claimed_attempt"] == 1 and "claimed_at" in item
    refusals = [r for r in caplog.records if "start guard" in r.getMessage()]
    assert len(refusals) == 2 and all(f"task {task_id}, attempt 1 not run" in r.getMessage() for r in refusals)


def test_concurrent_deliveries_of_an_attempt_through_lambda_run_the_body_once(task_manager, lambdas):
    task_id = new_task(task_manager)
    event = invoke(task_manager, lambdas, task_id)
    lambdas.register(LABOURER, get_lambda_handler(CountingWorker), timeout=10)
    client = boto3.client("lambda")

    def deliver():
        client.invoke(FunctionName=LABOURER, InvocationType="Event", Payload=json.dumps(event).encode())

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lambdas.wait_idle(10)

    assert CountingWorker.runs == [task_id]
    assert [r["status"] for r in lambdas.invocations if r["function"] == LABOURER] == ["succeeded"] * 5


def test_a_stale_attempt_does_not_run_once_the_task_was_invoked_again(task_manager, lambdas):
    task_id = new_task(task_manager)
    first = invoke(task_manager, lambdas, task_id)
    assert task_manager.move_task_to_retry_table(task(task_id), 0)
    handler = get_lambda_handler(CountingWorker)

    handler(dict(first), CONTEXT)  # late, while the task waits in the retry table
    labourer = task_manager.register_labourers(health=False)[0]
    assert task_manager.retry_tasks(labourer, task_manager.get_tasks_to_retry_for_labourer(labourer)) == [task_id]
    handler(dict(first), CONTEXT)  # late, while the task is queued again
    second = invoke(task_manager, lambdas, task_id)
    handler(dict(first), CONTEXT)  # late, after the task was invoked again
    handler(dict(second), CONTEXT)

    assert second["sosw_attempt"]["number"] == 2
    assert CountingWorker.runs == [task_id]
    assert task(task_id)["claimed_attempt"] == 2


@pytest.mark.parametrize("close", ["completed", "archived", "dead"])
def test_a_completed_or_closed_task_does_not_run(task_manager, lambdas, close):
    task_id = new_task(task_manager)
    event = invoke(task_manager, lambdas, task_id)
    if close in ("completed", "archived"):
        assert task_manager.mark_task_as_completed(task_id)
    if close in ("archived", "dead"):
        assert task_manager.archive_task(task_id)

    get_lambda_handler(CountingWorker)(event, CONTEXT)

    assert CountingWorker.runs == []
    assert reports(lambdas) == []
    if close == "completed":
        assert "claimed_attempt" not in task(task_id)
    else:
        (closed,) = scan_all("sosw_closed_tasks")
        assert "claimed_attempt" not in closed


def test_worker_start_guard_false_runs_every_delivery(task_manager, lambdas):
    task_id = new_task(task_manager)
    event = invoke(task_manager, lambdas, task_id)
    handler = get_lambda_handler(CountingWorker, custom_config={"worker_start_guard": False})

    handler(dict(event), CONTEXT)
    handler(dict(event), CONTEXT)

    assert CountingWorker.runs == [task_id, task_id]
    assert "claimed_attempt" not in task(task_id)


def test_a_payload_without_an_attempt_runs_as_before(task_manager, lambdas):
    task_id = new_task(task_manager)
    invoke(task_manager, lambdas, task_id)
    handler = get_lambda_handler(CountingWorker)

    handler({"n": 1, "task_id": task_id}, CONTEXT)  # sosw 0.7.47's Orchestrator, or a direct invocation
    handler({"n": 1, "task_id": task_id}, CONTEXT)

    assert CountingWorker.runs == [task_id, task_id]
    assert "claimed_attempt" not in task(task_id)
    assert len(reports(lambdas)) == 2


def test_the_guard_runs_once_per_invocation_in_a_subclass_of_a_subclass(task_manager, lambdas):
    task_id = new_task(task_manager)
    event = invoke(task_manager, lambdas, task_id)
    handler = get_lambda_handler(ChildCountingWorker)

    handler(dict(event), CONTEXT)
    handler(dict(event), CONTEXT)

    assert ChildCountingWorker.runs == ["child", "base"]
    assert len(reports(lambdas)) == 1


def test_a_claim_that_cannot_be_written_runs_the_body_and_is_logged_once(task_manager, lambdas, caplog):
    task_id = new_task(task_manager)
    event = invoke(task_manager, lambdas, task_id)
    del event["sosw_attempt"]["table"]  # a payload that names no table: the Worker's config names it
    worker = CountingWorker(custom_config={"sosw_tasks_table": "no_such_table"})

    with caplog.at_level(logging.ERROR, logger="sosw.worker"):
        worker(dict(event))
        worker(dict(event))

    assert CountingWorker.runs == [task_id, task_id]
    assert worker.stats["start_guard_errors"] == 2
    (logged,) = [r for r in caplog.records if "start guard" in r.getMessage()]
    assert "ResourceNotFoundException" in logged.getMessage() and "no_such_table" in logged.getMessage()


def test_task_manager_claim_task_claims_an_attempt_once(task_manager, lambdas):
    task_id = new_task(task_manager)
    attempt = invoke(task_manager, lambdas, task_id)["sosw_attempt"]

    assert task_manager.claim_task(task_id, attempt["number"], attempt["greenfield"] - 1) is False
    assert task_manager.claim_task(task_id, attempt["number"] + 1, attempt["greenfield"]) is False
    assert task_manager.claim_task(task_id, attempt["number"], attempt["greenfield"]) is True
    assert task_manager.claim_task(task_id, attempt["number"], attempt["greenfield"]) is False
    assert task(task_id)["claimed_attempt"] == 1

