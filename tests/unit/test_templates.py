"""
The CloudFormation templates under examples/: cfn-lint finds no error, the initial tables match
``sosw.constants.TABLE_SCHEMAS``, and the functions and roles follow the deployment conventions.
"""

from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode import decode

from sosw import constants
from sosw.deployer import requirements_of
from sosw.scaffold import init_worker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TEMPLATES = sorted(EXAMPLES.rglob("*.yaml"))
FUNCTION_TEMPLATES = sorted(EXAMPLES.glob("essentials/*/*.yaml")) + sorted(EXAMPLES.glob("workers/*/*.yaml"))
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
    for name, resource in template["Resources"].items():
        if resource["Type"] == kind:
            yield name, resource["Properties"]


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
    assert group["LogGroupName"] == "/aws/lambda/my_worker" and group["RetentionInDays"] > 0
