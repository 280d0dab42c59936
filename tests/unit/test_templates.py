"""
The CloudFormation templates under examples/ (and the Worker template of ``sosw init``): cfn-lint finds no error, the
initial tables match ``sosw.constants.TABLE_SCHEMAS``, the functions and roles follow the deployment conventions, the
data outlives its stacks, every function has its own log group, Workers turn Lambda's retries off, the dashboard
shows the Essentials' metrics and every checkov waiver says why. (tests/integration/test_iam.py measures what the roles
must allow; checkov itself runs in ``make test``.)
"""

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode import decode

from sosw import constants
from sosw.deployer import requirements_of
from sosw.scaffold import TEMPLATE_DIR, init_worker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TEMPLATES = sorted(EXAMPLES.rglob("*.yaml"))
WORKER_TEMPLATES = sorted(EXAMPLES.glob("workers/*/*.yaml"))
FUNCTION_TEMPLATES = sorted(EXAMPLES.glob("essentials/*/*.yaml")) + WORKER_TEMPLATES
#: The Worker template of ``sosw init``, with its placeholders: valid YAML and a valid template as it is.
SCAFFOLD_TEMPLATE = TEMPLATE_DIR / "__worker-name__.yaml"
ALL_TEMPLATES = TEMPLATES + [SCAFFOLD_TEMPLATE]
#: The tables whose data outlives the stack.
DATA_TABLES = {constants.TASKS_TABLE, constants.CLOSED_TASKS_TABLE, constants.RETRY_TASKS_TABLE, constants.META_TABLE,
               constants.DEFAULT_CONFIG_TABLE}
#: The metrics the Essentials emit per Labourer (namespace ``sosw``, dimension ``Labourer``), and how the dashboard
#: aggregates each: the level by its maximum, the counts of runs by their sum.
METRICS = {"Queued": "Sum", "Running": "Maximum", "Invoked": "Sum", "Completed": "Sum", "Expired": "Sum",
           "Retried": "Sum", "Dead": "Sum"}
LOG_RETENTION_DAYS = 30
TIMEOUTS = {
    "sosw_orchestrator": 60,
    "sosw_scavenger": 60,
    "sosw_worker_assistant": 10,
    "sosw_scheduler": 900,
    "sosw_tutorial_pull_tweeter_hashtags": 60,
}
#: What the functions' packages bring beyond sosw: the Scheduler's S3 IfNoneMatch needs a botocore that Lambda's
#: runtime may not have.
BROUGHT_ALONG = {"sosw_scheduler": ["boto3>=1.35.2", "botocore>=1.35.2", "s3transfer"]}
#: The only actions that may have Resource "*": AWS offers no resource-level permission for them.
UNSCOPED_ACTIONS = {"cloudwatch:GetMetricStatistics"}


def load(path: Path) -> Dict[str, Any]:
    template, matches = decode(path)
    assert not matches, matches
    return template


def resources(template: Dict[str, Any], kind: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    for name, resource in typed(template, kind):
        yield name, resource["Properties"]


def typed(template: Dict[str, Any], kind: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """The resources of a type, whole (with ``DeletionPolicy``, ``Metadata``...)."""
    for name, resource in template["Resources"].items():
        if resource["Type"] == kind:
            yield name, resource


def value_of(template: Dict[str, Any], value: Any) -> Any:
    """A property value, or the default of the parameter it refers to."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return template["Parameters"][value["Ref"]]["Default"]
    return value


def as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]


def test_templates_exist():
    assert len(TEMPLATES) >= 9
    assert {p.name for p in FUNCTION_TEMPLATES} >= {
        "sosw-orchestrator.yaml",
        "sosw-scavenger.yaml",
        "sosw-scheduler.yaml",
        "sosw-worker-assistant.yaml",
        "sosw-tutorial-pull-tweeter-hashtags.yaml",
    }


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_finds_no_error(path):
    matches = lint_file(path, config=ManualArgs(regions=["us-west-2"]))
    errors = [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_initial_tables_match_table_schemas():
    declared = {}
    for path in sorted((EXAMPLES / "yaml" / "initial").glob("*.yaml")):
        for _name, props in resources(load(path), "AWS::DynamoDB::Table"):
            declared[props["TableName"]] = props
    assert set(declared) == set(constants.TABLE_SCHEMAS)
    for table_name, spec in constants.TABLE_SCHEMAS.items():
        props = declared[table_name]
        assert props["BillingMode"] == spec["BillingMode"] == "PAY_PER_REQUEST", table_name
        assert props["KeySchema"] == spec["KeySchema"], table_name
        assert sorted(props["AttributeDefinitions"], key=str) == sorted(spec["AttributeDefinitions"], key=str)
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        expected = {i["IndexName"]: i for i in spec.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == set(expected), table_name
        for index_name, index in expected.items():
            assert indexes[index_name]["KeySchema"] == index["KeySchema"], index_name
            assert indexes[index_name]["Projection"] == index["Projection"] == {"ProjectionType": "ALL"}


@pytest.mark.parametrize("path", FUNCTION_TEMPLATES, ids=lambda p: p.name)
def test_function_conventions(path):
    functions = list(resources(load(path), "AWS::Lambda::Function"))
    assert len(functions) == 1
    _name, props = functions[0]
    function = props["FunctionName"]
    assert path.parent.name == function
    assert path.stem == function.replace("_", "-")
    assert props["Handler"] == "app.lambda_handler"
    assert props["Runtime"].startswith("python3.")
    assert props["Timeout"] == TIMEOUTS[function]
    assert props["Code"] == {
        "S3Bucket": {"Fn::ImportValue": "sosw-s3-bucket-name"},
        "S3Key": f"sosw/packages/{function}.zip",
    }
    assert (path.parent / "app.py").is_file()
    # Never the package index's sosw (the original project): the deployer copies this one in.
    assert requirements_of(path.parent) == BROUGHT_ALONG.get(function, [])


@pytest.mark.parametrize("path", FUNCTION_TEMPLATES, ids=lambda p: p.name)
def test_roles_are_scoped(path):
    roles = list(resources(load(path), "AWS::IAM::Role"))
    assert len(roles) == 1
    _name, props = roles[0]
    assert props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    statements = [s for policy in props["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    for statement in statements:
        assert statement["Effect"] == "Allow"
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= UNSCOPED_ACTIONS, statement
        assert not any(action.endswith(":*") or action == "*" for action in as_list(statement["Action"]))


def test_scheduled_rules_invoke_orchestrator_and_scavenger_every_minute():
    template = load(EXAMPLES / "yaml" / "sosw-dev-scheduled-rules.yaml")
    rules = dict(resources(template, "AWS::Events::Rule"))
    targets = {t["Arn"]["Fn::ImportValue"] for r in rules.values() for t in r["Targets"]}
    assert targets == {"sosw-orchestrator-arn", "sosw-scavenger-arn"}
    assert {r["ScheduleExpression"] for r in rules.values()} == {"rate(1 minute)"}
    permissions = [p for _n, p in resources(template, "AWS::Lambda::Permission")]
    assert {p["FunctionName"]["Fn::ImportValue"] for p in permissions} == targets
    assert {p["Principal"] for p in permissions} == {"events.amazonaws.com"}
    assert {p["SourceArn"]["Fn::GetAtt"][0] for p in permissions} == set(rules)


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory) -> Path:
    return init_worker("my_worker", parent=tmp_path_factory.mktemp("scaffold")) / "my-worker.yaml"


def test_the_scaffolded_template_lints_and_turns_off_lambda_retries(scaffolded):
    matches = lint_file(scaffolded, config=ManualArgs(regions=["us-west-2"]))
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches if m.rule.id.startswith("E")] == []
    template = load(scaffolded)
    [(_name, config)] = resources(template, "AWS::Lambda::EventInvokeConfig")
    assert config["MaximumRetryAttempts"] == 0  # the Scavenger retries tasks; Lambda's retries would run them twice
    [(_name, function)] = resources(template, "AWS::Lambda::Function")
    assert function["FunctionName"] == "my_worker" and function["Handler"] == "app.lambda_handler"
    assert function["Code"]["S3Key"] == "sosw/packages/my_worker.zip"
    [(_name, group)] = resources(template, "AWS::Logs::LogGroup")
    assert group["LogGroupName"] == "/aws/lambda/my_worker" and value_of(template, group["RetentionInDays"]) > 0


def test_no_arn_names_a_partition():
    # China and GovCloud have partitions of their own: every ARN says ${AWS::Partition}.
    assert [p.name for p in ALL_TEMPLATES if "arn:aws:" in p.read_text()] == []


def test_the_shared_tables_outlive_their_stack_with_point_in_time_recovery():
    kept = {}
    for path in sorted((EXAMPLES / "yaml" / "initial").glob("*.yaml")):
        for _name, table in typed(load(path), "AWS::DynamoDB::Table"):
            props = table["Properties"]
            kept[props["TableName"]] = (table.get("DeletionPolicy"), table.get("UpdateReplacePolicy"),
                                        props.get("PointInTimeRecoverySpecification"))
    assert kept == {name: ("Retain", "Retain", {"PointInTimeRecoveryEnabled": True}) for name in DATA_TABLES}


def test_the_bucket_is_versioned_encrypted_and_private():
    [(_name, bucket)] = resources(load(EXAMPLES / "yaml" / "initial" / "sosw-s3-bucket.yaml"), "AWS::S3::Bucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True)
    # Versions are kept for a while, not for ever.
    assert [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in bucket["LifecycleConfiguration"]["Rules"]
            if "NoncurrentVersionExpiration" in r] == [30]


def test_the_dead_task_topic_is_encrypted():
    [(_name, topic)] = resources(load(EXAMPLES / "yaml" / "initial" / "sosw-sns-topics.yaml"), "AWS::SNS::Topic")
    assert topic["KmsMasterKeyId"] == "alias/aws/sns"


@pytest.mark.parametrize("path", FUNCTION_TEMPLATES + [SCAFFOLD_TEMPLATE], ids=lambda p: p.name)
def test_each_function_logs_to_a_log_group_of_its_own_with_a_retention(path):
    template = load(path)
    [(_name, function)] = resources(template, "AWS::Lambda::Function")
    [(group_id, group)] = resources(template, "AWS::Logs::LogGroup")
    assert group["LogGroupName"] == f"/aws/lambda/{function['FunctionName']}"
    assert value_of(template, group["RetentionInDays"]) == LOG_RETENTION_DAYS
    [(_name, role)] = resources(template, "AWS::IAM::Role")
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    logs = [s for s in statements if any(a.startswith("logs:") for a in as_list(s["Action"]))]
    # The stack made the group: the role writes to it only, and creates none.
    assert logs == [{"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                     "Resource": {"Fn::GetAtt": [group_id, "Arn"]}}]


@pytest.mark.parametrize("path", WORKER_TEMPLATES + [SCAFFOLD_TEMPLATE], ids=lambda p: p.name)
def test_workers_turn_off_the_retries_of_lambda(path):
    template = load(path)
    [(function_id, _function)] = resources(template, "AWS::Lambda::Function")
    [(_name, config)] = resources(template, "AWS::Lambda::EventInvokeConfig")
    # The Scavenger retries tasks; Lambda's own retries of an invocation would run one attempt up to three times.
    assert config == {"FunctionName": {"Ref": function_id}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 0}


def test_the_dashboard_draws_a_line_per_labourer_for_each_metric_of_the_essentials():
    template = load(EXAMPLES / "yaml" / "sosw-dashboard.yaml")
    [(_name, dashboard)] = resources(template, "AWS::CloudWatch::Dashboard")
    defaults = {name: parameter["Default"] for name, parameter in template["Parameters"].items()}
    assert defaults["Namespace"] == "sosw"
    text = dashboard["DashboardBody"]["Fn::Sub"]
    for name, value in {"AWS::Region": "us-west-2", **defaults}.items():
        text = text.replace(f"${{{name}}}", value)
    body = json.loads(text.replace("${!", "${"))  # as CloudFormation's Sub leaves it
    searches = {}
    for widget in body["widgets"]:
        [[metric]] = widget["properties"]["metrics"]
        assert metric["label"] == "${PROP('Dim.Labourer')}"
        name = re.search(r'MetricName="(\w+)"', metric["expression"]).group(1)
        searches[name] = metric["expression"]
        assert widget["properties"]["title"].startswith(f"{name}:")
    assert searches == {name: f"SEARCH('{{sosw,Labourer}} MetricName=\"{name}\"', '{statistic}', 300)"
                        for name, statistic in METRICS.items()}


@pytest.mark.parametrize("path", ALL_TEMPLATES, ids=lambda p: p.name)
def test_every_checkov_waiver_says_why(path):
    for name, resource in load(path)["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
            assert len(skip.get("comment", "").split()) >= 5, (name, skip)
