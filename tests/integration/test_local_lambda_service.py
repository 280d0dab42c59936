"""
The local Lambda service (sosw.local.lambda_service) as boto3 sees it: Invoke answers, Event retries, timeouts that kill
the worker process, throttling, warm containers, and the relay of every other call to the moto server.

Handlers given as strings live in tests/integration/lambda_handlers/sample_handlers.py and run in worker processes;
callables run in a thread of the service, where a test can block them deterministically.
"""

import io
import json
import os
import re
import threading
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from sosw.local.lambda_service import COUNTERS, LocalLambdaService

HANDLERS = Path(__file__).resolve().parent / "lambda_handlers"
ARN_PREFIX = "arn:aws:lambda:us-west-2:123456789012:function:"


@pytest.fixture
def service(aws, tmp_path):
    """A service relaying to the session's moto server, with fast Event retries and logs under tmp_path."""
    with LocalLambdaService(
        proxy_endpoint=aws.endpoint, async_retry_delays=(0.05, 0.05), log_dir=tmp_path / "logs"
    ) as running:
        yield running


def client_of(service: LocalLambdaService):
    # One attempt, so that every 429 reaches the test. (``max_attempts`` would count retries: 1 means two attempts.)
    config = Config(retries={"total_max_attempts": 1})
    return boto3.client("lambda", endpoint_url=service.endpoint, config=config)


@pytest.fixture
def client(service):
    return client_of(service)


def invoke(client, name: str, payload=None, **kwargs) -> "tuple[dict, object]":
    """The boto3 response and the decoded payload of a RequestResponse invocation."""
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kwargs)
    return response, json.loads(response["Payload"].read())


def process_running(pid: int) -> bool:
    """Whether ``pid`` is a live process; a zombie waiting for its parent to reap it counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rpartition(")")[2].split()[0] == "Z")


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_request_response_returns_handler_result(service, client, tmp_path, aws):
    service.register("echo", "sample_handlers.echo", code_dir=HANDLERS, timeout=2, environment={"GREETING": "hi"})

    response, result = invoke(client, "echo", {"job": 7})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert result["event"] == {"job": 7}
    assert result["cwd"] == str(HANDLERS)
    context = result["context"]
    assert context["function_name"] == "echo"
    assert context["invoked_function_arn"] == ARN_PREFIX + "echo"
    assert context["function_version"] == "$LATEST"
    assert context["memory_limit_in_mb"] == 128
    assert context["log_group_name"] == "/aws/lambda/echo"
    assert 0 < context["remaining_ms"] <= 2000
    assert re.fullmatch(r"[0-9a-f-]{36}", context["aws_request_id"])
    assert result["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "echo",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "2",
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_ENDPOINT_URL_LAMBDA": service.endpoint,
        "GREETING": "hi",
    }

    # By full ARN with a qualifier, as the Orchestrator may call it.
    _, result = invoke(client, ARN_PREFIX + "echo:prod", {"job": 8})
    assert result["event"] == {"job": 8}
    assert result["context"]["invoked_function_arn"] == ARN_PREFIX + "echo:prod"

    # What the handler printed went to the function's log, not into the protocol.
    log = (tmp_path / "logs" / "echo.log").read_text()
    assert f"echo handler prints to stdout: {context['aws_request_id']}" in log
    assert "echo handler prints to stderr" in log
    assert f"REPORT RequestId: {context['aws_request_id']}" in log
    assert [record["status"] for record in service.invocations] == ["succeeded", "succeeded"]


def test_unmodified_boto3_reaches_the_service_through_the_environment(service, monkeypatch):
    service.register("double", lambda event, context: event["n"] * 2)
    for name, value in service.environ().items():
        monkeypatch.setenv(name, value)

    _, result = invoke(boto3.client("lambda"), "double", {"n": 21})
    assert result == 42


def test_event_returns_202_and_runs_in_the_background(service, client, make_table, ddb):
    table = make_table(
        {
            "TableName": "proof",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
    )
    service.register("writer", "sample_handlers.put_item", code_dir=HANDLERS)

    response = client.invoke(
        FunctionName="writer", InvocationType="Event", Payload=json.dumps({"table": table, "id": "written"})
    )
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""

    assert service.wait_idle(timeout=10)
    assert ddb.get_item(TableName=table, Key={"id": {"S": "written"}})["Item"] == {"id": {"S": "written"}}
    assert service.stats["writer"]["succeeded"] == 1
    [record] = service.invocations
    assert (record["type"], record["status"], record["result"]) == ("Event", "succeeded", "written")


def test_failing_event_is_attempted_three_times_then_given_up(service, client):
    service.register("failing", "sample_handlers.fail", code_dir=HANDLERS)

    assert client.invoke(FunctionName="failing", InvocationType="Event", Payload=b'{"n": 1}')["StatusCode"] == 202
    assert service.wait_idle(timeout=10)

    stats = service.stats["failing"]
    assert {key: stats[key] for key in ("invoked", "failed", "retried", "given_up", "succeeded")} == {
        "invoked": 3,
        "failed": 3,
        "retried": 2,
        "given_up": 1,
        "succeeded": 0,
    }
    records = service.invocations
    assert [record["attempt"] for record in records] == [1, 2, 3]
    assert {record["request_id"] for record in records} == {records[0]["request_id"]}
    assert all(record["payload"] == {"n": 1} and record["error"]["errorType"] == "ValueError" for record in records)


def test_request_response_error_is_an_unhandled_function_error(service, client):
    service.register("failing", "sample_handlers.fail", code_dir=HANDLERS)

    response, error = invoke(client, "failing", {"n": 2})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "cannot handle {'n': 2}"
    assert any("sample_handlers.py" in line and "in fail" in line for line in error["stackTrace"])
    assert service.stats["failing"]["failed"] == 1
    assert service.stats["failing"]["retried"] == 0  # only Event invocations are retried


def test_handler_past_its_timeout_is_killed_with_its_children(service, client, tmp_path):
    service.register("sleeper", "sample_handlers.sleep", code_dir=HANDLERS, timeout=1)
    pid_file = tmp_path / "pids"

    started = time.monotonic()
    response, error = invoke(client, "sleeper", {"pid_file": str(pid_file), "seconds": 30})
    assert 1 <= time.monotonic() - started < 5
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    timestamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(timestamp + r" \S+ Task timed out after 1\.00 seconds", error["errorMessage"])
    assert service.stats["sleeper"]["timed_out"] == 1
    worker_pid, child_pid = map(int, pid_file.read_text().split())
    assert not process_running(worker_pid)
    if os.name == "posix":
        assert wait_until(lambda: not process_running(child_pid), timeout=3), "the handler's child survived"

    # The next invocation gets a fresh container.
    _, pid = invoke(client, "sleeper", {"pid_file": str(pid_file), "seconds": 0})
    assert pid != worker_pid
    assert service.stats["sleeper"]["succeeded"] == 1


def test_callable_past_its_timeout_is_reported_timed_out(service, client):
    release = threading.Event()
    service.register("stuck", lambda event, context: release.wait(5), timeout=0.2)
    try:
        response, error = invoke(client, "stuck")
        assert error["errorType"] == "Sandbox.Timedout"
        assert service.stats["stuck"]["timed_out"] == 1
    finally:
        release.set()


def test_request_response_beyond_reserved_concurrency_is_throttled(service, client):
    release = threading.Event()
    service.register("busy", lambda event, context: release.wait(5), reserved_concurrency=1)
    service.register("disabled", lambda event, context: "never", reserved_concurrency=0)
    first = threading.Thread(target=invoke, args=(client_of(service), "busy"))
    first.start()
    try:
        assert wait_until(lambda: [r["status"] for r in service.invocations] == ["running"])
        with pytest.raises(client.exceptions.TooManyRequestsException) as raised:
            client.invoke(FunctionName="busy", Payload=b"{}")
        assert raised.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    finally:
        release.set()
        first.join()

    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke(FunctionName="disabled", Payload=b"{}")
    stats = service.stats
    assert (stats["busy"]["throttled"], stats["busy"]["succeeded"]) == (1, 1)
    assert (stats["disabled"]["throttled"], stats["disabled"]["invoked"]) == (1, 0)


def test_events_beyond_reserved_concurrency_wait_in_the_queue(service, client):
    lock = threading.Lock()
    running, peak = [0], [0]

    def handler(event, context):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return event["n"]

    service.register("serial", handler, reserved_concurrency=1)
    for n in range(4):
        response = client.invoke(FunctionName="serial", InvocationType="Event", Payload=json.dumps({"n": n}))
        assert response["StatusCode"] == 202
    assert service.wait_idle(timeout=5)

    assert peak[0] == 1
    assert sorted(record["result"] for record in service.invocations) == [0, 1, 2, 3]
    assert service.stats["serial"]["throttled"] == 0


def test_unknown_function_is_not_found(service, client):
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.invoke(FunctionName="nowhere")
    assert raised.value.response["Error"]["Message"] == f"Function not found: {ARN_PREFIX}nowhere"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="nowhere", InvocationType="DryRun")

    with LocalLambdaService() as without_proxy:
        lonely = client_of(without_proxy)
        with pytest.raises(lonely.exceptions.ResourceNotFoundException):
            lonely.invoke(FunctionName="nowhere", InvocationType="Event")
        with pytest.raises(lonely.exceptions.ResourceNotFoundException):
            lonely.get_function(FunctionName="nowhere")


def test_dry_run_answers_204_and_runs_nothing(service, client):
    service.register("echo", "sample_handlers.echo", code_dir=HANDLERS)

    assert client.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    assert service.invocations == []
    assert service.stats["echo"]["invoked"] == 0


def test_payload_that_is_not_json_is_rejected(service, client):
    service.register("echo", lambda event, context: event)

    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="echo", Payload=b"{not json")


def test_warm_container_keeps_module_state_between_invocations(service, client):
    service.register("counter", "sample_handlers.count", code_dir=HANDLERS)

    _, first = invoke(client, "counter")
    _, second = invoke(client, "counter")
    assert (first["count"], second["count"]) == (1, 2)
    assert first["pid"] == second["pid"]


def test_stop_kills_the_worker_processes(aws):
    with LocalLambdaService() as service:
        service.register("counter", "sample_handlers.count", code_dir=HANDLERS)
        _, result = invoke(client_of(service), "counter")
        assert process_running(result["pid"])
    assert not process_running(result["pid"])


def test_other_calls_reach_moto_and_deployed_functions_run_local_code(service, client):
    boto3.client("iam").create_role(RoleName="lambda", AssumeRolePolicyDocument="{}")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.write(HANDLERS / "sample_handlers.py", "sample_handlers.py")
    for name in ("deployed", "disabled", "codeless"):
        client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role="arn:aws:iam::123456789012:role/lambda",
            Handler="sample_handlers.echo",
            Code={"ZipFile": package.getvalue()},
            Timeout=2,
            Environment={"Variables": {"GREETING": "from moto"}},
        )
    client.put_function_concurrency(FunctionName="disabled", ReservedConcurrentExecutions=0)

    # Relayed to moto through the service.
    assert client.get_function(FunctionName="deployed")["Configuration"]["Handler"] == "sample_handlers.echo"
    listed = sorted(function["FunctionName"] for function in client.list_functions()["Functions"])
    assert listed == ["codeless", "deployed", "disabled"]

    resolved = []

    def code_resolver(name, configuration):
        resolved.append((name, configuration["Handler"], configuration["Timeout"]))
        return None if name == "codeless" else HANDLERS

    service.code_resolver = code_resolver
    for job in (1, 2):
        _, result = invoke(client, "deployed", {"job": job})
        assert result["event"] == {"job": job}
        assert result["env"]["GREETING"] == "from moto"
        assert result["env"]["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "2"
    assert resolved == [("deployed", "sample_handlers.echo", 2)]  # registered on the first invocation
    assert service.stats["deployed"]["succeeded"] == 2

    # Its reserved concurrency in moto applies too.
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke(FunctionName="disabled")

    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.invoke(FunctionName="codeless")
    assert "no local code is known" in raised.value.response["Error"]["Message"]


def test_a_handler_traceback_is_in_the_function_log(service, client, tmp_path):
    service.register("failing", "sample_handlers.fail", code_dir=HANDLERS)
    invoke(client, "failing", {"n": 3})

    log = (tmp_path / "logs" / "failing.log").read_text()
    assert "[ERROR] ValueError: cannot handle {'n': 3}" in log
    traceback = log[log.index("Traceback (most recent call last):"):]
    assert 'sample_handlers.py", line' in traceback and "in fail" in traceback
    assert log.index("START") < log.index("[ERROR]") < log.index("END RequestId")


def test_a_configuration_change_in_moto_reaches_the_next_invocation(service, client):
    boto3.client("iam").create_role(RoleName="lambda", AssumeRolePolicyDocument="{}")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.write(HANDLERS / "sample_handlers.py", "sample_handlers.py")
    client.create_function(FunctionName="deployed", Runtime="python3.11", Role="arn:aws:iam::123456789012:role/lambda",
                           Handler="sample_handlers.echo", Code={"ZipFile": package.getvalue()},
                           Environment={"Variables": {"GREETING": "before"}})
    service.code_resolver = lambda name, configuration: HANDLERS
    _, first = invoke(client, "deployed")
    assert first["env"]["GREETING"] == "before"

    # What `sosw config upload` does to make functions read their config again: a configuration change.
    client.update_function_configuration(FunctionName="deployed", Environment={"Variables": {"GREETING": "after"}})

    _, second = invoke(client, "deployed")
    assert second["env"]["GREETING"] == "after"
    assert second["pid"] != first["pid"]  # a fresh container, as Lambda starts after a configuration change
    assert not process_running(first["pid"])


def always_fail(event, context):
    raise ValueError(f"cannot handle {event}")


def event_attempts(service, client, name: str) -> "tuple[int, int, int]":
    """Invoke ``name`` with one Event and wait: its (invoked, retried, given_up) counts of that invocation."""
    before = service.stats.get(name, dict.fromkeys(COUNTERS, 0))  # a deployed function registers at its first invoke
    assert client.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    assert service.wait_idle(timeout=10)
    after = service.stats[name]
    return tuple(after[key] - before[key] for key in ("invoked", "retried", "given_up"))


def test_put_function_event_invoke_config_sets_the_retries_of_a_registered_function(service, client):
    service.register("failing", always_fail)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_event_invoke_config(FunctionName="failing")
    assert event_attempts(service, client, "failing") == (3, 2, 1)  # Lambda's default: two retries

    answer = client.put_function_event_invoke_config(FunctionName="failing", MaximumRetryAttempts=0)
    assert (answer["MaximumRetryAttempts"], answer["MaximumEventAgeInSeconds"]) == (0, 21600)
    assert answer["FunctionArn"] == ARN_PREFIX + "failing:$LATEST"
    assert client.get_function_event_invoke_config(FunctionName="failing")["MaximumRetryAttempts"] == 0
    assert event_attempts(service, client, "failing") == (1, 0, 1)

    # Update keeps what it does not name; Put replaces it all.
    client.update_function_event_invoke_config(FunctionName="failing", MaximumEventAgeInSeconds=600)
    config = client.get_function_event_invoke_config(FunctionName="failing")
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (0, 600)
    client.put_function_event_invoke_config(FunctionName="failing", MaximumRetryAttempts=1)
    assert client.get_function_event_invoke_config(FunctionName="failing")["MaximumEventAgeInSeconds"] == 21600
    assert event_attempts(service, client, "failing") == (2, 1, 1)
    [listed] = client.list_function_event_invoke_configs(FunctionName="failing")["FunctionEventInvokeConfigs"]
    assert listed["MaximumRetryAttempts"] == 1

    with pytest.raises(client.exceptions.InvalidParameterValueException, match="MaximumRetryAttempts"):
        client.put_function_event_invoke_config(FunctionName="failing", MaximumRetryAttempts=3)
    client.delete_function_event_invoke_config(FunctionName="failing")
    assert event_attempts(service, client, "failing") == (3, 2, 1)


def test_events_past_their_maximum_age_are_dropped_on_an_injected_clock(aws):
    now = [1000.0]
    with LocalLambdaService(async_retry_delays=(120.0, 120.0), clock=lambda: now[0]) as service:
        client = client_of(service)
        service.register("disabled", lambda event, context: "never", reserved_concurrency=0)
        service.register("failing", always_fail)
        for name in ("disabled", "failing"):
            client.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)

        # Waiting for a slot that never frees up: dropped once older than 60 s on the clock, not before.
        client.invoke(FunctionName="disabled", InvocationType="Event", Payload=b"{}")
        now[0] += 59
        service.wake()
        assert not service.wait_idle(timeout=0.3)
        now[0] += 2
        service.wake()
        assert service.wait_idle(timeout=5)
        assert {k: service.stats["disabled"][k] for k in ("invoked", "given_up")} == {"invoked": 0, "given_up": 1}

        # A retry 120 s later would come after the event's 60 s: the first failure is the last attempt.
        assert event_attempts(service, client, "failing") == (1, 0, 1)


def test_a_deployed_function_has_the_event_invoke_config_of_its_template(service, client):
    template = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: deployed_role
      AssumeRolePolicyDocument: {}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: deployed
      Runtime: python3.12
      Handler: sample_handlers.fail
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: "unused: the local service runs the code its code_resolver finds"
  EventInvokeConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Function
      Qualifier: $LATEST
      MaximumRetryAttempts: 0
"""
    boto3.client("cloudformation").create_stack(StackName="deployed", TemplateBody=template,
                                                Capabilities=["CAPABILITY_NAMED_IAM"])
    service.code_resolver = lambda name, configuration: HANDLERS

    assert client.get_function_event_invoke_config(FunctionName="deployed")["MaximumRetryAttempts"] == 0
    assert event_attempts(service, client, "deployed") == (1, 0, 1)

    # Changed through the API (moto keeps it): the next Event invocation follows, its warm container stays.
    client.put_function_event_invoke_config(FunctionName="deployed", MaximumRetryAttempts=1)
    assert event_attempts(service, client, "deployed") == (2, 1, 1)
    client.delete_function_event_invoke_config(FunctionName="deployed")
    assert event_attempts(service, client, "deployed") == (3, 2, 1)
    assert {record["function"] for record in service.invocations} == {"deployed"}
