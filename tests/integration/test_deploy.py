"""
sosw.deployer against a moto server: every example stack is created by CloudFormation and holds what its template
declares; a second deployment loads changed code; cleanup leaves nothing behind; the config updater writes its rows.

Moto differs from AWS in ways these tests cannot see: it deletes a stack whose exports are still imported and a bucket
stack whose bucket holds objects (AWS fails both), and it completes every stack operation at once.
"""

import ast
import importlib.util
import json
import shutil
from pathlib import Path

import boto3
import pytest

from sosw import constants
from sosw.deployer import (
    DeployError,
    DeployStacks,
    Executor,
    Stack,
    build_package,
    cleanup,
    code_sha256,
    deploy,
    discover_stacks,
    recycle_functions,
    upload_configs,
)

from .conftest import scan_all

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORKER = "sosw_tutorial_pull_tweeter_hashtags"
ACCOUNT = "123456789012"
REGION = "us-west-2"
FUNCTIONS = {
    "sosw_orchestrator": 60,
    "sosw_scavenger": 60,
    "sosw_scheduler": 900,
    "sosw_worker_assistant": 10,
    WORKER: 60,
}
STACKS = [
    "sosw-s3-bucket",
    "sosw-dynamo-db-tables",
    "sosw-sns-topics",
    "sosw-orchestrator",
    "sosw-scavenger",
    "sosw-scheduler",
    "sosw-worker-assistant",
    "sosw-dashboard",
    "sosw-dev-scheduled-rules",
    "sosw-tutorial-pull-tweeter-hashtags",
]
TABLES = {**constants.TABLE_SCHEMAS, WORKER: None}


def policy_document(document):
    """Moto answers GetRolePolicy with the document as Python repr text rather than URL-encoded JSON."""
    if isinstance(document, dict):
        return document
    try:
        return json.loads(document)
    except ValueError:
        return ast.literal_eval(document)


def live_stacks():
    stacks = boto3.client("cloudformation").list_stacks()["StackSummaries"]
    return {s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"}


@pytest.fixture
def examples(tmp_path):
    """A copy of the examples, free to edit."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "examples"))


def test_deploy_creates_every_stack_and_cleanup_removes_them(examples):
    lines = []
    statuses = deploy(examples, workers=[WORKER], log=lines.append, poll_delay=1)

    assert statuses == {name: "CREATE_COMPLETE" for name in STACKS}
    assert list(statuses) == STACKS
    assert lines == [f"{name}: CREATE_COMPLETE" for name in STACKS]

    ddb, lam, iam = boto3.client("dynamodb"), boto3.client("lambda"), boto3.client("iam")
    for table, spec in TABLES.items():
        described = ddb.describe_table(TableName=table)["Table"]
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        if spec:
            assert described["KeySchema"] == spec["KeySchema"]
            indexes = {i["IndexName"]: i["KeySchema"] for i in described.get("GlobalSecondaryIndexes", [])}
            assert indexes == {i["IndexName"]: i["KeySchema"] for i in spec.get("GlobalSecondaryIndexes", [])}

    bucket = f"sosw-s3-{ACCOUNT}"
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {f"sosw/packages/{name}.zip" for name in FUNCTIONS}
    topics = boto3.client("sns").list_topics()["Topics"]
    assert {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{constants.DEAD_SNS_TOPIC}"} in topics

    for name, timeout in FUNCTIONS.items():
        config = lam.get_function_configuration(FunctionName=name)
        assert (config["Handler"], config["Timeout"]) == ("app.lambda_handler", timeout)
        assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{name}_role"
        package = build_package(examples / ("workers" if name == WORKER else "essentials") / name,
                                exclude={f"{name.replace('_', '-')}.yaml"})
        assert config["CodeSha256"] == code_sha256(package)
        (policy_name,) = iam.list_role_policies(RoleName=f"{name}_role")["PolicyNames"]
        document = policy_document(iam.get_role_policy(RoleName=f"{name}_role", PolicyName=policy_name)
                                   ["PolicyDocument"])
        resources = json.dumps(document["Statement"])
        assert f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/config" in resources
        assert "Fn::" not in resources  # imports and substitutions were resolved

    scheduler_policy = policy_document(
        iam.get_role_policy(RoleName="sosw_scheduler_role", PolicyName="sosw_scheduler")["PolicyDocument"]
    )
    queue = next(s for s in scheduler_policy["Statement"] if s["Sid"] == "QueueFiles")
    assert queue["Resource"] == f"arn:aws:s3:::{bucket}/sosw/scheduler/*"

    events = boto3.client("events")
    for essential in ("sosw_orchestrator", "sosw_scavenger"):
        rule = events.describe_rule(Name=f"{essential}_every_minute")
        assert rule["ScheduleExpression"] == "rate(1 minute)" and rule["State"] == "ENABLED"
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert target["Arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{essential}"
        (statement,) = json.loads(lam.get_policy(FunctionName=essential)["Policy"])["Statement"]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]

    lines.clear()
    statuses = cleanup(examples, log=lines.append, poll_delay=1)

    assert statuses == {name: "DELETE_COMPLETE" for name in STACKS}
    # Tier by tier in reverse; the stacks of one tier go together.
    assert list(statuses) == [STACKS[9], *STACKS[7:9], *STACKS[3:7], *STACKS[1:3], STACKS[0]]
    assert f"{bucket}: {len(FUNCTIONS)} objects deleted" in lines
    assert live_stacks() == set()
    # The stacks retain sosw's tables and their data (DeletionPolicy: Retain); only the tutorial's results go.
    assert sorted(ddb.list_tables()["TableNames"]) == sorted(constants.TABLE_SCHEMAS)
    cleanup(examples, log=lines.append, poll_delay=1, delete_data=True)
    assert ddb.list_tables()["TableNames"] == []
    assert lam.list_functions()["Functions"] == []
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("sosw_")]
    assert events.list_rules()["Rules"] == []
    assert boto3.client("sns").list_topics()["Topics"] == []
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    assert cleanup(examples, log=lines.append) == {}


def test_redeploy_loads_changed_code_only(examples):
    deploy(examples, log=lambda line: None, poll_delay=1)
    source = examples / "essentials" / "sosw_worker_assistant"
    (source / "app.py").write_text((source / "app.py").read_text() + "\n# changed\n")

    lines = []
    statuses = deploy(examples, stacks=["sosw-worker-assistant", "sosw-scheduler"], log=lines.append, poll_delay=1)

    assert set(statuses) == {"sosw-worker-assistant", "sosw-scheduler"}
    assert "sosw_worker_assistant: code updated" in lines
    assert not [line for line in lines if line.startswith("sosw_scheduler:")]
    lam = boto3.client("lambda")
    expected = code_sha256(build_package(source, exclude={"sosw-worker-assistant.yaml"}))
    assert lam.get_function_configuration(FunctionName="sosw_worker_assistant")["CodeSha256"] == expected

    assert recycle_functions(["sosw_scheduler", "no_such_function"], log=lines.append) == ["sosw_scheduler"]
    variables = lam.get_function_configuration(FunctionName="sosw_scheduler")["Environment"]["Variables"]
    assert "SOSW_CONFIG_UPDATED_AT" in variables


def config_rows(table="config"):
    return {row["config_name"]: (row["env"], json.loads(row["config_value"])) for row in scan_all(table)}


def test_upload_configs_writes_the_rows_and_is_idempotent(sosw_tables):
    written = upload_configs(EXAMPLES, log=lambda line: None)
    rows = config_rows()
    assert set(rows) == {p.stem for p in (EXAMPLES / "essentials" / ".config").glob("*.json")}
    assert {env for env, _ in rows.values()} == {"production"}
    assert {name: value for name, (_env, value) in rows.items()} == written
    assert rows["sosw_scheduler_config"][1]["queue_bucket"] == f"sosw-s3-{ACCOUNT}"
    assert rows["sosw_scavenger_config"][1]["dead_sns_topic"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:SoswWorkerErrors"

    upload_configs(EXAMPLES, worker=WORKER, log=lambda line: None)
    once = config_rows()
    upload_configs(EXAMPLES, worker=WORKER, log=lambda line: None)
    assert config_rows() == once

    labourers = once[constants.ESSENTIAL_CONFIG_NAME][1]["task_config"]["labourers"]
    assert labourers == {
        WORKER: {"arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{WORKER}", "max_simultaneous_invocations": 3}
    }
    assert once[f"{WORKER}_config"][1]["dynamo_db_config"]["table_name"] == WORKER
    # Uploading the Essentials' configs alone keeps the Labourer registered.
    upload_configs(EXAMPLES, log=lambda line: None)
    assert config_rows()[constants.ESSENTIAL_CONFIG_NAME] == once[constants.ESSENTIAL_CONFIG_NAME]


def test_config_updater_script_honours_table_and_env(make_table, monkeypatch, capsys):
    spec = {**constants.TABLE_SCHEMAS[constants.DEFAULT_CONFIG_TABLE], "TableName": "my_config"}
    make_table(spec)
    monkeypatch.setenv(constants.ENV_CONFIG_TABLE, "my_config")
    script = importlib.util.spec_from_file_location("config_updater", EXAMPLES / "config_updater.py")
    module = importlib.util.module_from_spec(script)
    script.loader.exec_module(module)

    assert module.main([WORKER, "--env", "staging"]) == 0

    rows = config_rows("my_config")
    assert {env for env, _ in rows.values()} == {"staging"}
    assert f"{WORKER}_config" in rows
    assert f"my_config: staging/{WORKER}_config written" in capsys.readouterr().out


def test_deploying_an_unchanged_stack_again_is_no_change(aws):
    [topics] = [s for s in discover_stacks(EXAMPLES) if s.name == "sosw-sns-topics"]
    first, second = [], []
    assert Executor(log=first.append, poll_delay=0).execute([DeployStacks((topics,))]) == \
        {"sosw-sns-topics": "CREATE_COMPLETE"}
    assert Executor(log=second.append, poll_delay=0).execute([DeployStacks((topics,))]) == \
        {"sosw-sns-topics": "CREATE_COMPLETE"}
    assert second == ["sosw-sns-topics: CREATE_COMPLETE (no changes)"]


def test_a_stack_cloudformation_rejects_is_a_deploy_error_naming_it(aws, tmp_path):
    template = tmp_path / "sosw-needs-a-parameter.yaml"
    template.write_text("Parameters:\n  Stage:\n    Type: String\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    stack = Stack(name="sosw-needs-a-parameter", template=template, tier="initial")
    with pytest.raises(DeployError, match="sosw-needs-a-parameter.*Stage"):
        Executor(log=lambda line: None, poll_delay=0).execute([DeployStacks((stack,))])
