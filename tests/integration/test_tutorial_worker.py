"""The tutorial Worker as a Lambda would run it: rows in its results table in moto, its report to the
WorkerAssistant received by the local Lambda service."""

import importlib.util
from pathlib import Path

from sosw.local.lambda_service import LocalLambdaService
from tests.integration.conftest import scan_all

APP = Path(__file__).resolve().parents[2] / "examples/workers/sosw_tutorial_pull_tweeter_hashtags/app.py"


def load_app():
    spec = importlib.util.spec_from_file_location("tutorial_pull_tweeter_hashtags_app_it", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_processor_stores_rows_and_reports_the_task(make_table, monkeypatch):
    app = load_app()
    make_table({
        "TableName": app.RESULTS_TABLE,
        "KeySchema": [{"AttributeName": "word", "KeyType": "HASH"}, {"AttributeName": "date", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "word", "AttributeType": "S"},
                                 {"AttributeName": "date", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    })
    with LocalLambdaService() as lambdas:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", lambdas.endpoint)
        lambdas.register("sosw_worker_assistant", lambda event, context: {"status": "completed"})
        processor = app.Processor(custom_config={"bearer_token": ""})

        processor({"topics": ["cars"], "words": ["car"], "date_list": ["2026-11-23"], "task_id": "task-1"})
        assert lambdas.wait_idle(10)
        (report,) = lambdas.invocations

    expected = app.count_in_sample(app.load_sample_posts(), "car", "2026-11-23")
    rows = scan_all(app.RESULTS_TABLE)
    assert [(r["word"], r["date"], r["topic"], r["source"], r["count"]) for r in rows] == \
        [("car", "2026-11-23", "cars", "sample", expected)]
    assert report["function"] == "sosw_worker_assistant" and report["type"] == "Event"
    payload = report["payload"]
    assert payload["action"] == "mark_task_as_completed" and payload["task_id"] == "task-1"
    assert payload["result"] == {"rows": 1, "total_count": expected}
    assert payload["stats"]["rows_sample"] == 1
