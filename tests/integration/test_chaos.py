"""The chaos suite: a short seeded run of ``benchmarks/chaos.py`` (Workers that fail and overrun their timeout,
throttled DynamoDB, three Orchestrators and two Scavengers at once, Lambda's own retries) must show no defect; and
the regressions the chaos run found, each on the moto server."""

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import boto3
import pytest
from botocore.exceptions import ClientError

from sosw.local.lambda_service import LocalLambdaService
from sosw.managers.task import TaskManager
from sosw.worker import Worker

ROOT = Path(__file__).resolve().parents[2]
LABOURER = "chaos_guarded_worker"
TASK_CONFIG = {"labourers": {LABOURER: {"duration": 60, "cooldown": 10}}, "read_labourer_timeout": False}


def test_a_short_chaos_run_shows_no_defect(tmp_path):
    figures_file = tmp_path / "chaos.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "chaos.py"), "--tasks", "100", "--seed", "7",
         "--json", str(figures_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert figures_file.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads(figures_file.read_text())
    report = run.stdout[-3000:]

    assert figures["created"] == 100
    assert figures["completed"] + figures["dead"] == 100, report  # every task closed
    for defect in ("lost", "in_two_tables", "overlapping_runs", "successful_work_rerun", "dead_although_succeeded",
                   "completed_without_success"):
        assert figures[defect] == 0, f"{defect}: {figures[defect]}\n{report}"
    assert 0 < figures["peak_running"] <= figures["limit"] == 10, report
    # The faults did happen: Workers raised and overran, DynamoDB calls were throttled.
    assert {"succeeded", "raised", "overran"} <= set(figures["runs_by_outcome"]), report
    assert any(key.startswith("throttled ") for key in figures["counts"]), report
    assert figures["dead"] > 0 and figures["completed"] > 0, report
    assert run.returncode == 0, report


class CountingWorker(Worker):
    runs: List[str] = []

    def __call__(self, event):
        type(self).runs.append(event["task_id"])
        return super().__call__(event)


@pytest.fixture
def invoked_event(sosw_tables, monkeypatch):
    """The event of a task's first invocation, as the Orchestrator sent it through the local Lambda service; the
    Worker's reports go to a WorkerAssistant function there that records them."""
    CountingWorker.runs = []
    service = LocalLambdaService(async_retry_delays=(0.05, 0.05)).start()
    for name, value in service.environ().items():
        monkeypatch.setenv(name, value)
    sent: List[Dict] = []
    service.register(LABOURER, lambda event, context: sent.append(event))
    service.register("sosw_worker_assistant", lambda event, context: {"status": "recorded"})
    task_manager = TaskManager(custom_config=json.loads(json.dumps(TASK_CONFIG)))
    (task_id,) = task_manager.create_tasks(task_manager.get_labourer(LABOURER), [{"n": 1}])
    labourer = task_manager.register_labourers(health=False)[0]
    assert task_manager.invoke_tasks(labourer, task_manager.get_next_for_labourer(labourer, cnt=1)) == [task_id]
    assert service.wait_idle(10)
    yield sent[0]
    service.stop()


def fresh_default_session(monkeypatch):
    """A default boto3 session of the test's own (the previous one comes back after the test), where the Worker
    makes its clients."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto3.setup_default_session()
    return boto3.DEFAULT_SESSION


def throttle_first_update(monkeypatch):
    """Make the first UpdateItem of a fresh default session fail as throttled (botocore's retries spent)."""
    calls = []

    def hook(model=None, **kwargs):
        calls.append(model.name)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, model.name)

    fresh_default_session(monkeypatch).events.register("before-call.dynamodb.UpdateItem", hook)
    return calls


def test_a_throttled_claim_does_not_run_the_body_and_the_retried_delivery_does(invoked_event, monkeypatch, caplog):
    # Found by the chaos run: a claim throttled beyond botocore's retries ran the body unguarded, so a stale retry of
    # Lambda could run while a newer attempt ran, or after it had completed the task.
    calls = throttle_first_update(monkeypatch)
    worker = CountingWorker()

    with caplog.at_level(logging.WARNING, logger="sosw.worker"), pytest.raises(ClientError, match="Throttling"):
        worker(dict(invoked_event))
    assert CountingWorker.runs == []
    assert worker.stats["start_guard_transient_errors"] == 1
    assert any("not run" in r.getMessage() for r in caplog.records)
    task = boto3.resource("dynamodb").Table("sosw_tasks").get_item(Key={"task_id": invoked_event["task_id"]},
                                                                   ConsistentRead=True)["Item"]
    assert "claimed_attempt" not in task

    worker(dict(invoked_event))  # Lambda's retry of the same delivery: now it claims, and runs once

    assert CountingWorker.runs == [invoked_event["task_id"]]
    assert calls == ["UpdateItem", "UpdateItem"]
    worker(dict(invoked_event))  # a third delivery: refused
    assert CountingWorker.runs == [invoked_event["task_id"]]


def test_a_claim_refused_for_lack_of_permission_still_runs_the_body_unguarded(invoked_event, monkeypatch):
    def deny(model=None, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, model.name)

    fresh_default_session(monkeypatch).events.register("before-call.dynamodb.UpdateItem", deny)
    worker = CountingWorker()

    worker(dict(invoked_event))

    assert CountingWorker.runs == [invoked_event["task_id"]]
    assert worker.stats["start_guard_errors"] == 1 and "start_guard_transient_errors" not in worker.stats


def test_an_attempt_that_starts_after_its_start_by_does_not_run(invoked_event, caplog):
    # Found by the chaos run (peak 11 runs at once for a limit of 10): a delivery that started late ran past its
    # task's expiry, while the Orchestrator had given its slot to another task.
    attempt = invoked_event["sosw_attempt"]
    invoked_at = attempt["greenfield"] - TaskManager(custom_config=json.loads(json.dumps(TASK_CONFIG))).settings \
        .greenfield_invocation_delta
    assert attempt["start_by"] == invoked_at + TASK_CONFIG["labourers"][LABOURER]["cooldown"] + 1
    worker = CountingWorker()
    late = {**invoked_event, "sosw_attempt": {**attempt, "start_by": invoked_at - 1}}

    with caplog.at_level(logging.WARNING, logger="sosw.worker"):
        assert worker(late) is None

    assert CountingWorker.runs == []
    assert worker.stats["start_guard_late"] == 1 and worker.stats["start_guard_refusals"] == 1
    assert any("start_by" in r.getMessage() for r in caplog.records)
    worker(dict(invoked_event))  # the same attempt on time: claimed already, so it does not run either
    assert CountingWorker.runs == []


def test_an_attempt_that_starts_by_its_start_by_runs(invoked_event):
    worker = CountingWorker()

    worker(dict(invoked_event))

    assert CountingWorker.runs == [invoked_event["task_id"]]
    assert "start_guard_late" not in worker.stats
