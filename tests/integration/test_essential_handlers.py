"""
The Essentials as deployed: each ``examples/essentials/<name>/app.py`` handler, configured from the rows the
config updater writes, driven with the sample events under tests/events against the moto server.
"""

import importlib.util
import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from sosw import constants
from sosw.deployer import upload_configs
from sosw.local.lambda_service import LocalLambdaService
from tests.conftest import load_event
from tests.integration.conftest import scan_all

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORKER = "sosw_tutorial_pull_tweeter_hashtags"


def handler_of(essential: str):
    """The ``lambda_handler`` of an Essential's app.py, loaded as its own module (like its own Lambda)."""
    spec = importlib.util.spec_from_file_location(f"app_{essential}", EXAMPLES / "essentials" / essential / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def context(function_name: str) -> SimpleNamespace:
    return SimpleNamespace(function_name=function_name, aws_request_id=str(uuid.uuid4()),
                           invoked_function_arn=f"arn:aws:lambda:us-west-2:123456789012:function:{function_name}",
                           get_remaining_time_in_millis=lambda: 300_000)


def run(essential: str, event, monkeypatch):
    monkeypatch.setenv(constants.ENV_FUNCTION_NAME, essential)
    return handler_of(essential)(event, context(essential))


@pytest.fixture
def deployed(sosw_tables, monkeypatch):
    """Config rows as ``config_updater.py sosw_tutorial_pull_tweeter_hashtags`` writes them, and a Lambda endpoint
    where the tutorial Worker's invocations are recorded (the Worker itself is not run here)."""
    upload_configs(EXAMPLES, worker=WORKER, log=lambda line: None)
    with LocalLambdaService() as service:
        service.register(WORKER, lambda event, ctx: None)
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", service.endpoint)
        yield service


def test_orchestrator_built_from_the_uploaded_rows_lists_the_tutorial_worker(deployed, monkeypatch):
    from sosw import Orchestrator

    monkeypatch.setenv(constants.ENV_FUNCTION_NAME, "sosw_orchestrator")
    labourers = {lab.id: lab for lab in Orchestrator().task_client.get_labourers()}
    assert labourers[WORKER].max_simultaneous_invocations == 3
    assert labourers[WORKER].arn == f"arn:aws:lambda:us-west-2:123456789012:function:{WORKER}"


def test_each_essential_handler_does_its_job_on_its_sample_event(deployed, monkeypatch):
    result = run("sosw_scheduler", load_event("scheduler_tutorial.json"), monkeypatch)
    assert result["tasks_created"] == 36
    assert len(scan_all(constants.TASKS_TABLE)) == 36

    invoked = run("sosw_orchestrator", load_event("scheduled_event.json"), monkeypatch)
    assert invoked == {WORKER: 3}  # its max_simultaneous_invocations
    assert deployed.wait_idle(10)
    invocations = [r for r in deployed.invocations if r["function"] == WORKER]
    assert len(invocations) == 3 and all("task_id" in r["payload"] for r in invocations)

    report = load_event("worker_assistant_mark_completed.json")
    report["task_id"] = invocations[0]["payload"]["task_id"]
    assert run("sosw_worker_assistant", report, monkeypatch) == {"task_id": report["task_id"], "status": "completed"}
    completed = {t["task_id"]: t for t in scan_all(constants.TASKS_TABLE)}[report["task_id"]]
    assert completed["result_rows"] == 2 and completed["completed_at"] > 0

    assert run("sosw_scavenger", load_event("scheduled_event.json"), monkeypatch) == {"tasks_archived": 1}
    closed = scan_all(constants.CLOSED_TASKS_TABLE)
    assert [(c["task_id"], c["labourer_id_task_status"]) for c in closed] == [(report["task_id"], f"{WORKER}_1")]
    assert len(scan_all(constants.TASKS_TABLE)) == 35
    events = {e["action"] for e in scan_all(constants.META_TABLE) if e["task_id"] == report["task_id"]}
    assert events == {"created", "invoked", "completed", "archived"}


def test_a_malformed_report_is_refused_by_the_worker_assistant_handler(deployed, monkeypatch):
    from sosw.exceptions import InvalidEvent

    report = load_event("worker_assistant_mark_completed.json")
    report["action"] = "mark_task_as_done"
    with pytest.raises(InvalidEvent, match="action"):
        run("sosw_worker_assistant", report, monkeypatch)
    assert json.loads(json.dumps(scan_all(constants.TASKS_TABLE), default=str)) == []
