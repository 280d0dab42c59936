"""
The Essentials' telemetry as deployed: each ``examples/essentials/<name>/app.py`` handler, configured from the rows the
config updater writes, against the moto server. What they print (CloudWatch EMF lines, one per Labourer and run) and
log (one structured stats record per invocation), and that it costs no AWS call: every call is counted with a
botocore hook, and a run with ``metrics: false`` makes exactly the same calls.

Also the WorkerAssistant's oversized reports, on moto's DynamoDB, which refuses items over 400 KB as DynamoDB does.
"""

import importlib.util
import json
import logging
import threading
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError

from sosw import constants
from sosw.app import LambdaGlobals
from sosw.components.config import DynamoConfig
from sosw.deployer import upload_configs
from sosw.local.lambda_service import LocalLambdaService
from sosw.managers.task import MAX_PAYLOAD_BYTES, TaskManager
from sosw.worker_assistant import MAX_REPORT_BYTES
from tests.conftest import load_event
from tests.integration.conftest import scan_all

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORKER = "sosw_tutorial_pull_tweeter_hashtags"
ESSENTIALS = ("sosw_scheduler", "sosw_orchestrator", "sosw_worker_assistant", "sosw_scavenger")


def handler_of(essential: str):
    """The ``lambda_handler`` of an Essential's app.py, loaded as its own module, with a Processor of its own (like a
    new Lambda container): the container globals are shared by every ``LambdaGlobals``."""
    LambdaGlobals().processor = None
    spec = importlib.util.spec_from_file_location(f"app_{essential}", EXAMPLES / "essentials" / essential / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def context(function_name: str) -> SimpleNamespace:
    return SimpleNamespace(function_name=function_name, aws_request_id=str(uuid.uuid4()),
                           invoked_function_arn=f"arn:aws:lambda:us-west-2:123456789012:function:{function_name}",
                           get_remaining_time_in_millis=lambda: 300_000)


class AwsCalls:
    """Every AWS call of boto3 clients made from the default session while it is on, as ``service:Operation``."""

    def __init__(self):
        self.calls = []
        self._lock = threading.Lock()

    def __call__(self, model, **kwargs):
        with self._lock:
            self.calls.append(f"{model.service_model.service_name}:{model.name}")

    def take(self) -> Counter:
        with self._lock:
            taken, self.calls = Counter(self.calls), []
        return taken


@pytest.fixture
def aws_calls():
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    events = boto3.DEFAULT_SESSION.events  # clients copy the session's handlers when they are created
    recorder = AwsCalls()
    events.register("before-call", recorder)
    yield recorder
    events.unregister("before-call", recorder)


def deploy(metrics: bool = True) -> None:
    """Tables and config rows as ``sosw local up`` + ``config_updater.py`` make them; ``metrics: false`` in
    ``sosw_essential_config`` for every Essential if not ``metrics``."""
    for spec in constants.TABLE_SCHEMAS.values():
        boto3.client("dynamodb").create_table(**spec)
    rows = upload_configs(EXAMPLES, worker=WORKER, log=lambda line: None)
    if not metrics:
        DynamoConfig().update_config(constants.ESSENTIAL_CONFIG_NAME,
                                     {**rows[constants.ESSENTIAL_CONFIG_NAME], "metrics": False})


@pytest.fixture
def worker_endpoint(monkeypatch):
    """A Lambda endpoint where the tutorial Worker's invocations are recorded (the Worker itself is not run)."""
    with LocalLambdaService() as service:
        service.register(WORKER, lambda event, ctx: None)
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", service.endpoint)
        yield service


def run(essential: str, event, monkeypatch):
    monkeypatch.setenv(constants.ENV_FUNCTION_NAME, essential)
    return handler_of(essential)(event, context(essential))


def emf_lines(out: str):
    """The EMF documents among printed lines."""
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def cycle(monkeypatch, capsys, aws_calls, worker_endpoint):
    """Schedule the tutorial job, orchestrate, report one task completed, scavenge. For each Essential: the AWS
    calls it made and the EMF documents it printed."""
    capsys.readouterr()
    aws_calls.take()
    earlier = len(worker_endpoint.invocations)
    observed = {}

    def observe(essential, event):
        answer = run(essential, event, monkeypatch)
        if essential == "sosw_orchestrator":
            assert worker_endpoint.wait_idle(10)
        observed[essential] = (aws_calls.take(), emf_lines(capsys.readouterr().out))
        return answer

    assert observe("sosw_scheduler", load_event("scheduler_tutorial.json"))["tasks_created"] == 36
    assert observe("sosw_orchestrator", load_event("scheduled_event.json")) == {WORKER: 3}
    report = load_event("worker_assistant_mark_completed.json")
    report["task_id"] = worker_endpoint.invocations[earlier]["payload"]["task_id"]
    assert observe("sosw_worker_assistant", report)["status"] == "completed"
    assert observe("sosw_scavenger", load_event("scheduled_event.json")) == {"tasks_archived": 1}
    return observed


def counts(document):
    """The metric values of an EMF document, checked against its own directive."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "sosw" and directive["Dimensions"] == [["Labourer"]]
    names = [metric["Name"] for metric in directive["Metrics"]]
    assert all(metric["Unit"] == "Count" for metric in directive["Metrics"])
    assert set(document) == {"_aws", "Labourer", *names}
    return {"Labourer": document["Labourer"], **{name: document[name] for name in names}}


def test_each_essential_prints_one_line_per_labourer_and_makes_no_extra_call(aws, monkeypatch, capsys, aws_calls,
                                                                            worker_endpoint):
    deploy(metrics=False)
    quiet = cycle(monkeypatch, capsys, aws_calls, worker_endpoint)
    aws.reset()
    deploy(metrics=True)
    loud = cycle(monkeypatch, capsys, aws_calls, worker_endpoint)

    assert loud["sosw_orchestrator"][0]["lambda:Invoke"] == 3  # the hook sees every client's calls
    for essential in ESSENTIALS:
        assert loud[essential][0] == quiet[essential][0], essential
        assert not [call for call in loud[essential][0] if call.split(":")[0] in ("cloudwatch", "logs")]
        assert quiet[essential][1] == []
    assert [counts(d) for d in loud["sosw_scheduler"][1]] == [{"Labourer": WORKER, "Queued": 36}]
    assert [counts(d) for d in loud["sosw_orchestrator"][1]] == [{"Labourer": WORKER, "Invoked": 3, "Running": 3}]
    assert loud["sosw_worker_assistant"][1] == []
    assert [counts(d) for d in loud["sosw_scavenger"][1]] == [
        {"Labourer": WORKER, "Completed": 1, "Expired": 0, "Retried": 0, "Dead": 0}]


def test_each_invocation_logs_its_stats_as_one_structured_record(aws, monkeypatch, caplog, worker_endpoint):
    deploy()
    with caplog.at_level(logging.INFO, logger="sosw.app"):
        run("sosw_scheduler", load_event("scheduler_tutorial.json"), monkeypatch)
        run("sosw_orchestrator", load_event("scheduled_event.json"), monkeypatch)

    records = [r for r in caplog.records if r.name == "sosw.app" and r.getMessage().startswith("{")]
    assert [json.loads(r.getMessage())["function"] for r in records] == ["sosw_scheduler", "sosw_orchestrator"]
    scheduler, orchestrator = (json.loads(r.getMessage()) for r in records)
    assert scheduler["message"] == "stats" and scheduler["stats"]["rows_parsed"] == 36
    assert orchestrator["stats"]["tasks_invoked"] == 3
    assert records[1].stats == orchestrator["stats"] and records[1].function == "sosw_orchestrator"


# Oversized reports ------------------------------------------------------------------------------------------------


def invoked_task(payload_bytes: int):
    """A task of the tutorial Worker whose payload is ``payload_bytes`` of JSON text, marked invoked: as a Worker
    that runs it sees it."""
    task_manager = TaskManager(custom_config={"labourers": {WORKER: {}}, "read_labourer_timeout": False})
    labourer = task_manager.get_labourer(WORKER)
    payload = {"blob": "x" * (payload_bytes - len('{"blob": ""}'))}
    (task_id,) = task_manager.create_tasks(labourer, [payload])
    stored = boto3.client("dynamodb").get_item(TableName=constants.TASKS_TABLE, Key={"task_id": {"S": task_id}})
    assert len(stored["Item"]["payload"]["S"].encode()) == payload_bytes
    task = task_manager.get_task_by_id(task_id)
    task_manager.mark_task_invoked(labourer, task)
    return task_manager, task_id


def tasks_by_id(table=constants.TASKS_TABLE):
    return {item["task_id"]: item for item in scan_all(table)}


def test_an_oversized_result_is_stored_as_a_marker_and_the_task_completes(aws, monkeypatch, caplog):
    deploy()
    task_manager, task_id = invoked_task(MAX_PAYLOAD_BYTES)
    result = {"rows": "r" * 500_000, "count": 12}
    # What the WorkerAssistant used to pass on: DynamoDB refuses the item with a ValidationException.
    with pytest.raises(ClientError, match="size"):
        task_manager.report_task(task_id, "completed", stats={"calls": 1}, result=result)

    with caplog.at_level(logging.INFO):
        answer = run("sosw_worker_assistant", {"action": "mark_task_as_completed", "task_id": task_id,
                                               "stats": {"calls": 1}, "result": json.dumps(result)}, monkeypatch)

    assert answer == {"task_id": task_id, "status": "completed"}
    task = tasks_by_id()[task_id]
    assert task["completed_at"] > 0 and task["stat_calls"] == 1
    assert not [name for name in task if name.startswith("result_") and name != "result_truncated"]
    marker = task["result_truncated"]
    assert marker["bytes"] == len("result_rows") + 500_002 + len("result_count") + 2
    assert marker["limit"] == MAX_REPORT_BYTES and marker["head"].startswith('{"rows": "rrr')
    assert len(marker["head"]) == 1000
    stats = [json.loads(r.getMessage())["stats"] for r in caplog.records
             if r.name == "sosw.app" and r.getMessage().startswith("{")]
    assert stats[-1]["truncated_result"] == 1
    assert f"task {task_id}: its result takes" in caplog.text

    assert run("sosw_scavenger", load_event("scheduled_event.json"), monkeypatch) == {"tasks_archived": 1}
    assert tasks_by_id(constants.CLOSED_TASKS_TABLE)[task_id]["result_truncated"]["bytes"] == marker["bytes"]


def test_a_report_at_the_limit_fits_beside_the_largest_payload_through_to_the_closed_tasks(aws, monkeypatch):
    deploy()
    _task_manager, task_id = invoked_task(MAX_PAYLOAD_BYTES)
    # stat_n = 1: 7 bytes; result_text = "...": 11 + 2 + the text.
    result = {"text": "é" * ((MAX_REPORT_BYTES - 7 - 13) // 2)}

    answer = run("sosw_worker_assistant", {"action": "mark_task_as_completed", "task_id": task_id,
                                           "stats": {"n": 1}, "result": result}, monkeypatch)

    assert answer["status"] == "completed"
    assert tasks_by_id()[task_id]["result_text"] == result["text"]
    assert run("sosw_scavenger", load_event("scheduled_event.json"), monkeypatch) == {"tasks_archived": 1}
    assert tasks_by_id(constants.CLOSED_TASKS_TABLE)[task_id]["result_text"] == result["text"]
