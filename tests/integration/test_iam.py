"""
Least privilege, measured. Each Essential's handler (``examples/essentials/<name>/app.py``), the tutorial Worker's
and the ``sosw init`` Worker's run in-process against the moto server, on the sample events and along every path a
task takes: a small job and a large one handed to a sibling Scheduler, invocation, completion, failure reports,
retry, death, archiving, re-queueing. Every AWS call they make is recorded and mapped to the IAM actions and
resources it needs. Then, for each function, against the role policy of its template:

- every action a call needed is allowed on the resource it touched;
- every action a statement grants, on each of its resources, was needed by some call, but for the exceptions of
  :data:`NOT_MEASURED`, each with the reason a run cannot show it.

Calls are recorded by wrapping ``BaseClient._make_api_call`` rather than by a handler on the default session's events:
a client keeps a copy of the handlers its session had when it was created, and the config source keeps its client
from one test to the next.
"""

import fnmatch
import importlib.util
import json
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import boto3
import botocore.client
import pytest
from cfnlint.decode import decode

from sosw import constants
from sosw.app import LambdaGlobals
from sosw.deployer import upload_configs
from sosw.local.lambda_service import LocalLambdaService
from sosw.scaffold import init_worker
from tests.conftest import load_event
from tests.integration.conftest import scan_all

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORKER = "sosw_tutorial_pull_tweeter_hashtags"
SCAFFOLDED = "iam_probe_worker"
ACCOUNT, REGION, PARTITION = "123456789012", "us-west-2", "aws"
PSEUDO = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
ESSENTIALS = ("sosw_orchestrator", "sosw_scavenger", "sosw_scheduler", "sosw_worker_assistant")
FUNCTIONS = (*ESSENTIALS, WORKER, SCAFFOLDED)

#: Grants a run cannot show a call for, by (function, statement, action), with the reason they stay.
NOT_MEASURED = {
    ("sosw_scheduler", "QueueListing", "s3:ListBucket"):
        "never called: without it S3 answers a missing queue file with 403 instead of 404, and the Scheduler would "
        "fail on a finished or unknown queue file instead of answering not_found",
}

#: The function's logs: the Lambda service writes them with the role, the code makes no call.
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


# Recording -----------------------------------------------------------------------------------------------------


class Recorder:
    """The AWS calls made while a function runs, by function: (service, operation, parameters)."""

    def __init__(self) -> None:
        self.calls: Dict[str, List[Tuple[str, str, Dict[str, Any]]]] = defaultdict(list)
        self.function: Optional[str] = None
        self._lock = threading.Lock()

    def wrap(self, original):
        recorder = self

        def _make_api_call(client, operation_name, api_params):
            function = recorder.function
            if function is not None:
                with recorder._lock:
                    recorder.calls[function].append((client.meta.service_model.service_name, operation_name,
                                                     dict(api_params)))
            return original(client, operation_name, api_params)

        return _make_api_call

    def needs(self, function: str) -> Set[Tuple[str, str]]:
        """The (IAM action, resource ARN) pairs the recorded calls of ``function`` needed."""
        return {need for service, operation, params in self.calls[function]
                for need in iam_needs(service, operation, params)}


def _arn(service: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource}"


def _function_arn(reference: str) -> str:
    if reference.startswith("arn:"):
        return reference
    return _arn("lambda", f"function:{reference}")


def _table_arn(table: str, index: Optional[str] = None) -> str:
    return _arn("dynamodb", f"table/{table}" + (f"/index/{index}" if index else ""))


#: TransactWriteItems needs the item-level action of each of its parts.
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
#: Operations authorised as another action.
_S3_ACTIONS = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket", "ListObjects": "ListBucket"}
_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction"}
#: Operations that need no permission.
_FREE = {("sts", "GetCallerIdentity")}


def iam_needs(service: str, operation: str, params: Dict[str, Any]) -> Iterator[Tuple[str, str]]:
    """The (action, resource) pairs one call needs, per the Service Authorization Reference."""
    if (service, operation) in _FREE:
        return
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            for item in params["TransactItems"]:
                (kind, part), = item.items()
                yield f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table_arn(part["TableName"])
        elif operation in ("BatchWriteItem", "BatchGetItem"):
            for table in params["RequestItems"]:
                yield f"dynamodb:{operation}", _table_arn(table)
        else:
            yield f"dynamodb:{operation}", _table_arn(params["TableName"], params.get("IndexName"))
    elif service == "s3":
        action = f"s3:{_S3_ACTIONS.get(operation, operation)}"
        bucket = params["Bucket"]
        if action == "s3:ListBucket":
            yield action, f"arn:{PARTITION}:s3:::{bucket}"
        elif operation == "CopyObject":
            source = params["CopySource"]
            yield "s3:GetObject", f"arn:{PARTITION}:s3:::{source['Bucket']}/{source['Key']}"
            yield "s3:PutObject", f"arn:{PARTITION}:s3:::{bucket}/{params['Key']}"
        else:
            yield action, f"arn:{PARTITION}:s3:::{bucket}/{params['Key']}"
    elif service == "lambda":
        yield f"lambda:{_LAMBDA_ACTIONS.get(operation, operation)}", _function_arn(params["FunctionName"])
    elif service == "sns":
        yield f"sns:{operation}", params["TopicArn"]
    elif service == "events" and "Name" in params:
        yield f"events:{operation}", _arn("events", f"rule/{params['Name']}")
    else:
        # CloudWatch metrics (and the like) support no resource-level permissions.
        yield f"{service}:{operation}", "*"


# Templates -----------------------------------------------------------------------------------------------------


def _template_paths() -> List[Path]:
    return sorted(EXAMPLES.rglob("*.yaml"))


class Templates:
    """The templates' role policies with every intrinsic function resolved, exports included."""

    def __init__(self, paths: List[Path]):
        self.docs = {}
        for path in paths:
            template, matches = decode(path)
            assert not matches, matches
            self.docs[path] = template
        self.exports = {
            str(output["Export"]["Name"]): (path, output["Value"])
            for path, doc in self.docs.items() for output in (doc.get("Outputs") or {}).values() if "Export" in output
        }

    def resolve(self, path: Path, node: Any) -> Any:
        doc = self.docs[path]
        if isinstance(node, list):
            return [self.resolve(path, item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref")):
            return {key: self.resolve(path, value) for key, value in node.items()}
        (name, value), = node.items()
        if name == "Ref":
            return PSEUDO.get(value) or self._ref(path, value)
        if name == "Fn::GetAtt":
            logical, attribute = value if isinstance(value, list) else value.split(".", 1)
            assert attribute == "Arn", value
            return self._resource_arn(path, doc["Resources"][logical])
        if name == "Fn::ImportValue":
            source, exported = self.exports[self.resolve(path, value)]
            return self.resolve(source, exported)
        if name == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else value
            values = {**PSEUDO, **{k: self.resolve(path, v) for k, v in variables.items()}}
            for key in list(doc.get("Resources", {})) + list(doc.get("Parameters") or {}):
                if f"${{{key}}}" in text and key not in values:
                    values[key] = self._ref(path, key)
            for key, resolved in values.items():
                text = text.replace(f"${{{key}}}", str(resolved))
            assert "${" not in text, text
            return text
        raise AssertionError(f"{path.name}: cannot resolve {name}")

    def _ref(self, path: Path, logical: str) -> str:
        doc = self.docs[path]
        if logical in (doc.get("Parameters") or {}):
            return str(doc["Parameters"][logical]["Default"])
        resource = doc["Resources"][logical]
        if resource["Type"] == "AWS::SNS::Topic":
            return _arn("sns", self.resolve(path, resource["Properties"]["TopicName"]))
        return self.resolve(path, resource["Properties"][_NAME_PROPERTY[resource["Type"]]])

    def _resource_arn(self, path: Path, resource: Dict[str, Any]) -> str:
        kind, props = resource["Type"], resource["Properties"]
        name = self.resolve(path, props[_NAME_PROPERTY[kind]])
        return {
            "AWS::DynamoDB::Table": lambda: _table_arn(name),
            "AWS::S3::Bucket": lambda: f"arn:{PARTITION}:s3:::{name}",
            "AWS::Lambda::Function": lambda: _function_arn(name),
            "AWS::Logs::LogGroup": lambda: _arn("logs", f"log-group:{name}:*"),
            "AWS::SNS::Topic": lambda: _arn("sns", name),
        }[kind]()

    def statements(self, path: Path) -> List[Dict[str, Any]]:
        """The statements of the one role of a function template, resolved."""
        roles = [r for r in self.docs[path]["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
        assert len(roles) == 1, path
        statements = [s for policy in roles[0]["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]
        resolved = []
        for statement in statements:
            assert statement["Effect"] == "Allow" and "Condition" not in statement, statement
            actions, resources = statement["Action"], self.resolve(path, statement["Resource"])
            resolved.append({"Sid": statement["Sid"],
                             "Action": actions if isinstance(actions, list) else [actions],
                             "Resource": resources if isinstance(resources, list) else [resources]})
        return resolved


_NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SNS::Topic": "TopicName",
}


def _matches(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` any characters, ``?`` one; actions are case-insensitive."""
    return fnmatch.fnmatchcase(value, pattern)


def allowed(statements: List[Dict[str, Any]], action: str, resource: str) -> bool:
    return any(_matches(a.lower(), action.lower()) and any(_matches(r, resource) for r in s["Resource"])
               for s in statements for a in s["Action"])


def unused_grants(function: str, statements: List[Dict[str, Any]], needs: Set[Tuple[str, str]]) -> List[str]:
    """``sid: action on resource`` for each grant no call needed, but the logs and :data:`NOT_MEASURED`."""
    unused = []
    for statement in statements:
        for action in statement["Action"]:
            if action in LOG_ACTIONS or (function, statement["Sid"], action) in NOT_MEASURED:
                continue
            for resource in statement["Resource"]:
                if not any(_matches(action.lower(), a.lower()) and _matches(resource, r) for a, r in needs):
                    unused.append(f"{statement['Sid']}: {action} on {resource}")
    return unused


# The run -------------------------------------------------------------------------------------------------------


def _load_handler(module_name: str, path: Path):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def _context(function: str, remaining_ms: int = 300_000) -> SimpleNamespace:
    return SimpleNamespace(function_name=function, aws_request_id=str(uuid.uuid4()),
                           invoked_function_arn=_function_arn(function),
                           get_remaining_time_in_millis=lambda: remaining_ms)


class Run:
    """Runs functions as their own Lambdas would, each time in a fresh container (so each reads its config anew),
    and records their calls."""

    def __init__(self, recorder: Recorder, monkeypatch, scaffold: Path):
        self.recorder = recorder
        self.monkeypatch = monkeypatch
        self.sources = {name: EXAMPLES / "essentials" / name / "app.py" for name in ESSENTIALS}
        self.sources[WORKER] = EXAMPLES / "workers" / WORKER / "app.py"
        self.sources[SCAFFOLDED] = scaffold / "app.py"

    def __call__(self, function: str, event: Any, remaining_ms: int = 300_000) -> Any:
        self.monkeypatch.setenv(constants.ENV_FUNCTION_NAME, function)
        handler = _load_handler(f"iam_{function}_{uuid.uuid4().hex}", self.sources[function])
        LambdaGlobals().processor = None  # a cold start: the Processor of the process is shared, as in 0.7.47
        self.recorder.function = function
        try:
            return handler(event, _context(function, remaining_ms))
        finally:
            self.recorder.function = None


def _put_config(name: str, value: Dict[str, Any]) -> None:
    boto3.client("dynamodb").put_item(TableName=constants.DEFAULT_CONFIG_TABLE, Item={
        "env": {"S": constants.DEFAULT_CONFIG_ENV}, "config_name": {"S": name},
        "config_value": {"S": json.dumps(value)}})


def _get_config(name: str) -> Dict[str, Any]:
    item = boto3.client("dynamodb").get_item(TableName=constants.DEFAULT_CONFIG_TABLE, Key={
        "env": {"S": constants.DEFAULT_CONFIG_ENV}, "config_name": {"S": name}})["Item"]
    return json.loads(item["config_value"]["S"])


def _set_task(table: str, key: Dict[str, Any], **values: Any) -> None:
    boto3.resource("dynamodb").Table(table).update_item(
        Key=key, UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
        ExpressionAttributeNames={f"#{k}": k for k in values},
        ExpressionAttributeValues={f":{k}": v for k, v in values.items()})


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory) -> Path:
    return init_worker(SCAFFOLDED, parent=tmp_path_factory.mktemp("iam"))


@pytest.fixture
def recorded(sosw_tables, monkeypatch, scaffold) -> Recorder:
    """Every function run along the life of tasks, their calls recorded."""
    recorder = Recorder()
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call",
                        recorder.wrap(botocore.client.BaseClient._make_api_call))
    upload_configs(EXAMPLES, worker=WORKER, log=lambda line: None)
    upload_configs(EXAMPLES, worker=SCAFFOLDED, worker_dir=scaffold, log=lambda line: None)
    essential = _get_config(constants.ESSENTIAL_CONFIG_NAME)
    # Five at once, so that tasks can take every path; a health metric, so that the Orchestrator reads CloudWatch.
    essential["task_config"]["labourers"][WORKER].update({
        "max_simultaneous_invocations": 5,
        "health_metrics": {"Errors": {
            "details": {"Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistics": ["Sum"],
                        "Dimensions": [{"Name": "FunctionName", "Value": WORKER}]},
            "feelings": {3: 5, 4: 0}, "feeling_comparison_operator": "<="}},
    })
    _put_config(constants.ESSENTIAL_CONFIG_NAME, essential)
    boto3.client("s3").create_bucket(Bucket=f"sosw-s3-{ACCOUNT}",
                                     CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("sns").create_topic(Name=constants.DEAD_SNS_TOPIC)
    # The tutorial Worker's results table, as its template declares it.
    results = Templates([EXAMPLES / "workers" / WORKER / f"{WORKER.replace('_', '-')}.yaml"])
    [table] = [r["Properties"] for doc in results.docs.values() for r in doc["Resources"].values()
               if r["Type"] == "AWS::DynamoDB::Table"]
    boto3.client("dynamodb").create_table(**{k: table[k] for k in ("TableName", "BillingMode", "KeySchema",
                                                                   "AttributeDefinitions")})
    run = Run(recorder, monkeypatch, scaffold)
    with LocalLambdaService() as service:
        # Every function invoked is registered (and records its invocations only), so the service never looks one
        # up in moto with a client of its own, whose calls would be taken for the running function's.
        for name in (WORKER, SCAFFOLDED, "sosw_scheduler", "sosw_worker_assistant", "sosw_orchestrator"):
            service.register(name, lambda event, ctx: None)
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", service.endpoint)
        _life_of_tasks(run, service, scaffold)
    return recorder


def _invocations(service: LocalLambdaService, function: str) -> List[Any]:
    assert service.wait_idle(10)
    return [r["payload"] for r in service.invocations if r["function"] == function]


def _life_of_tasks(run: Run, service: LocalLambdaService, scaffold: Path) -> None:
    # A small job (one batch), then a large one that a Scheduler short of time hands to a sibling.
    assert run("sosw_scheduler", load_event("scheduler_tutorial.json"))["tasks_created"] == 36
    _put_config("sosw_scheduler_config", {**_get_config("sosw_scheduler_config"), "batch_size": 10})
    handed = run("sosw_scheduler", load_event("scheduler_tutorial.json"), remaining_ms=30_000)
    assert handed["status"] == "continued_in_sibling", handed
    [sibling] = _invocations(service, "sosw_scheduler")
    assert run("sosw_scheduler", sibling)["status"] == "done"
    assert run("sosw_scheduler", load_event("scheduler_sibling.json"))["status"] == "not_found"
    assert run("sosw_scheduler", json.loads((scaffold / "config" / "task.json").read_text()))["status"] == "done"

    invoked = run("sosw_orchestrator", load_event("scheduled_event.json"))
    assert invoked == {WORKER: 5, SCAFFOLDED: 2}, invoked
    done, failed, dead, retried, running = [p["task_id"] for p in _invocations(service, WORKER)]
    # The Scheduler kicked the Orchestrator for each job; a kicked run dispatches the Labourer it names in a session
    # under the Labourer's dispatch lease (all its slots are taken: it counts, waits out its budget, gives the lease
    # back).
    kicks = _invocations(service, "sosw_orchestrator")
    assert {"source": "sosw.kick", "labourer_id": WORKER} in kicks, kicks
    assert run("sosw_orchestrator", {"source": "sosw.kick", "labourer_id": WORKER}, remaining_ms=11_000) == {WORKER: 0}

    # Reports of the Workers, a failure for a task still queued, a completion for another one, and the Workers
    # themselves.
    report = load_event("worker_assistant_mark_completed.json")
    assert run("sosw_worker_assistant", {**report, "task_id": done})["status"] == "completed"
    assert {"source": "sosw.kick"} in _invocations(service, "sosw_orchestrator"), "a completion kicks"
    assert run("sosw_worker_assistant", {**report, "task_id": done})["status"] == "already_completed"
    for task_id in (failed, dead, retried):
        assert run("sosw_worker_assistant", {**report, "action": "mark_task_as_failed", "task_id": task_id})[
            "status"] == "failed"
    queued = [t["task_id"] for t in scan_all(constants.TASKS_TABLE) if t["labourer_id"] == WORKER and
              t["task_id"] not in (done, failed, dead, retried, running)]
    run("sosw_worker_assistant", {**report, "action": "mark_task_as_failed", "task_id": queued[0]})
    run("sosw_worker_assistant", {**report, "task_id": queued[1]})
    assert run("sosw_worker_assistant", {**report, "task_id": "no_such_task"})["status"] == "not_found"
    run(WORKER, next(p for p in _invocations(service, WORKER) if p["task_id"] == running))
    run(SCAFFOLDED, _invocations(service, SCAFFOLDED)[0])

    # One task out of attempts: the Scavenger closes it as dead; the failed ones go to the retry table.
    _set_task(constants.TASKS_TABLE, {"task_id": dead}, attempts=constants.DEFAULT_MAX_ATTEMPTS)
    scavenged = run("sosw_scavenger", load_event("scheduled_event.json"))
    assert scavenged.get("tasks_archived") == 2 and scavenged.get("tasks_moved_to_retry") == 2, scavenged
    # Completions that arrive after the Scavenger moved their task: one in the retry table, one closed dead.
    for task_id in (failed, dead):
        run("sosw_worker_assistant", {**report, "task_id": task_id})
    # A retry whose time has come goes back to the queue.
    _set_task(constants.RETRY_TASKS_TABLE, {"labourer_id": WORKER, "task_id": retried},
              desired_launch_time=int(time.time()) - 1)
    assert run("sosw_scavenger", load_event("scheduled_event.json")).get("tasks_retried") == 1


def _template_of(function: str, scaffold: Path) -> Path:
    if function == SCAFFOLDED:
        return scaffold / f"{SCAFFOLDED.replace('_', '-')}.yaml"
    folder = "workers" if function == WORKER else "essentials"
    return EXAMPLES / folder / function / f"{function.replace('_', '-')}.yaml"


def test_every_role_allows_what_its_function_calls_and_nothing_more(recorded, scaffold):
    templates = Templates(_template_paths() + [_template_of(SCAFFOLDED, scaffold)])
    problems = []
    for function in FUNCTIONS:
        statements = templates.statements(_template_of(function, scaffold))
        needs = recorded.needs(function)
        assert needs, f"{function} made no AWS call: the run did not reach it"
        problems += [f"{function} is denied {action} on {resource}" for action, resource in sorted(needs)
                     if not allowed(statements, action, resource)]
        problems += [f"{function} needs no {grant} (remove it, or say why in NOT_MEASURED)"
                     for grant in unused_grants(function, statements, needs)]
        # Its logs go to its own log group, which its template creates (so no logs:CreateLogGroup).
        logs = [(set(s["Action"]), s["Resource"]) for s in statements if set(s["Action"]) & LOG_ACTIONS]
        if logs != [(LOG_ACTIONS, [_arn("logs", f"log-group:/aws/lambda/{function}:*")])]:
            problems.append(f"{function} logs with {logs}")
        problems += [f"{function} has no {sid} granting {action}, listed in NOT_MEASURED"
                     for (owner, sid, action) in NOT_MEASURED if owner == function and
                     not any(s["Sid"] == sid and action in s["Action"] for s in statements)]
    assert not problems, "\n".join(problems)
