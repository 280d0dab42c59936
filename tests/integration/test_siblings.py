"""SiblingsManager against moto (Events, CloudWatch) and a recording Lambda Invoke endpoint."""

import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import unquote

import boto3
import pytest

import sosw.app
from sosw.app import Processor
from sosw.components.siblings import SiblingsManager

FUNCTION_ARN = "arn:aws:lambda:us-west-2:123456789012:function:worker"
CONTEXT = SimpleNamespace(invoked_function_arn=FUNCTION_ARN, function_name="worker")


class _InvokeRecorder(BaseHTTPRequestHandler):
    """Answers Lambda Invoke like AWS does for asynchronous (202) and dry-run (204) invocations."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        self.server.requests.append({"path": unquote(self.path), "type": invocation_type, "payload": body})
        self.send_response(204 if invocation_type == "DryRun" else 202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def lambda_endpoint(monkeypatch):
    """Requests that reached the Lambda Invoke endpoint; boto3 clients created from now on go there."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _InvokeRecorder)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", f"http://127.0.0.1:{server.server_address[1]}")
    yield server.requests
    server.shutdown()
    server.server_close()


def add_rule(name: str, enabled: bool, target_arn: str = FUNCTION_ARN) -> None:
    events = boto3.client("events")
    events.put_rule(Name=name, ScheduleExpression="rate(1 minute)", State="ENABLED" if enabled else "DISABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "target", "Arn": target_arn}])


INVOCATIONS_PATH = f"/2015-03-31/functions/{FUNCTION_ARN}/invocations"


# Events rules ----------------------------------------------------------------------------------------------------


def test_rules_enabled_or_not():
    siblings = SiblingsManager()
    assert siblings.any_events_rules_enabled(CONTEXT) is False

    add_rule("disabled", enabled=False)
    add_rule("elsewhere", enabled=True, target_arn="arn:aws:lambda:us-west-2:123456789012:function:other")
    assert siblings.any_events_rules_enabled(CONTEXT) is False

    boto3.client("events").enable_rule(Name="disabled")
    assert siblings.any_events_rules_enabled(CONTEXT) is True


def test_rules_are_read_across_pages():
    for i in range(55):  # moto pages ListRuleNamesByTarget by 50
        add_rule(f"disabled_{i:02}", enabled=False)
    add_rule("enabled_last", enabled=True)
    siblings = SiblingsManager()
    pages = []
    siblings.events_client.meta.events.register("after-call.events.ListRuleNamesByTarget",
                                                lambda **kwargs: pages.append(1))

    assert siblings.any_events_rules_enabled(CONTEXT) is True
    assert len(pages) == 2


def test_rules_check_needs_the_function_arn():
    with pytest.raises(ValueError, match="invoked_function_arn"):
        SiblingsManager().any_events_rules_enabled(SimpleNamespace(function_name="worker"))


# Spawning --------------------------------------------------------------------------------------------------------


def test_spawn_invokes_the_same_function_asynchronously(lambda_endpoint):
    add_rule("schedule", enabled=True)
    siblings = SiblingsManager()

    assert siblings.spawn_sibling(CONTEXT, payload={"cursor": 120, "rows": ["a", "b"]}) is True

    assert lambda_endpoint == [
        {"path": INVOCATIONS_PATH, "type": "Event", "payload": b'{"cursor": 120, "rows": ["a", "b"]}'},
    ]
    assert siblings.stats["siblings_spawned"] == 1


def test_spawn_without_enabled_rule_warns_and_does_not_invoke(lambda_endpoint, caplog):
    add_rule("schedule", enabled=False)
    siblings = SiblingsManager()

    with caplog.at_level(logging.WARNING, logger="sosw.components.siblings"):
        assert siblings.spawn_sibling(CONTEXT, payload={"cursor": 1}) is False

    assert lambda_endpoint == []
    assert siblings.stats["siblings_spawned"] == 0
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "no enabled Events rule" in caplog.text and FUNCTION_ARN in caplog.text


def test_forced_spawn_skips_the_rules_check(lambda_endpoint):
    siblings = SiblingsManager()

    assert siblings.spawn_sibling(SimpleNamespace(function_name="worker"), force=True) is True

    assert lambda_endpoint == [{"path": "/2015-03-31/functions/worker/invocations", "type": "Event", "payload": b"{}"}]


def test_spawn_in_test_mode_is_a_dry_run(lambda_endpoint, monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    siblings = SiblingsManager()

    assert siblings.spawn_sibling(CONTEXT, payload={"cursor": 5}, force=True) is True

    assert lambda_endpoint == [{"path": INVOCATIONS_PATH, "type": "DryRun", "payload": b'{"cursor": 5}'}]


def test_siblings_as_a_processor_component(lambda_endpoint, monkeypatch):
    monkeypatch.setattr(sosw.app, "get_config", lambda name, test=False: {})

    class Chunked(Processor):
        DEFAULT_CONFIG = {"init_clients": ["Siblings"]}

        def __call__(self, event):
            self.siblings_client.spawn_sibling(self.lambda_context, payload={"cursor": event["cursor"] + 1},
                                               force=True)

    processor = Chunked(lambda_context=CONTEXT)
    processor({"cursor": 1})

    assert isinstance(processor.siblings_client, SiblingsManager)
    assert [json.loads(r["payload"]) for r in lambda_endpoint] == [{"cursor": 2}]
    assert processor.get_stats()["siblings_spawned"] == 1


# Approximate concurrency -----------------------------------------------------------------------------------------


def put_minute(function: str, minutes_ago: int, invocations: int, durations_ms: list) -> None:
    """Lambda-like metrics of one minute: an invocation count and the durations measured in it."""
    timestamp = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    dimensions = [{"Name": "FunctionName", "Value": function}]
    common = {"Dimensions": dimensions, "Timestamp": timestamp}
    boto3.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Invocations", "Value": invocations, **common},
        *({"MetricName": "Duration", "Value": d, "Unit": "Milliseconds", **common} for d in durations_ms),
    ])


def test_approximate_concurrency_from_cloudwatch(monkeypatch):
    put_minute("worker", 3, invocations=120, durations_ms=[4000, 6000])  # 120 × 5 s = 600 busy seconds
    put_minute("worker", 2, invocations=60, durations_ms=[2000])  # 60 × 2 s = 120 busy seconds
    put_minute("other", 2, invocations=10_000, durations_ms=[60_000])
    siblings = SiblingsManager()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "worker")

    # 720 busy seconds in a 300 s window: 2.4 executions at a time, rounded up.
    assert siblings.get_approximate_concurrent_executions() == 3
    assert siblings.get_approximate_concurrent_executions(minutes_back=10, name="worker") == 2
    assert siblings.get_approximate_concurrent_executions(name="other") == 2000


def test_approximate_concurrency_without_datapoints_is_zero():
    assert SiblingsManager().get_approximate_concurrent_executions(name="idle") == 0


def test_approximate_concurrency_defaults_to_test_function_outside_lambda():
    put_minute("test_function", 2, invocations=30, durations_ms=[10_000])  # 300 busy seconds in 300 s

    assert SiblingsManager().get_approximate_concurrent_executions() == 1
