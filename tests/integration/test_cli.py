"""The sosw command line against a moto server: status from the tables, Lambda errors as one line."""

import json

from sosw import constants
from sosw.cli import main
from sosw.managers.task import TaskManager


def test_status_counts_tasks_of_every_labourer(sosw_tables, ddb, capsys):
    task_config = {"labourers": {"w1": {"max_simultaneous_invocations": 2}}, "read_labourer_timeout": False}
    ddb.put_item(TableName=constants.DEFAULT_CONFIG_TABLE, Item={
        "env": {"S": "production"}, "config_name": {"S": constants.ESSENTIAL_CONFIG_NAME},
        "config_value": {"S": json.dumps({"task_config": task_config})}})
    task_manager = TaskManager(custom_config=task_config)
    task_manager.create_tasks(task_manager.get_labourer("w1"), [{"n": n} for n in range(5)])

    assert main(["status"]) == 0
    header, _, row = capsys.readouterr().out.splitlines()
    assert row.split() == ["w1", "5", "0", "0", "0", "0", "0", "0"]


def test_tick_without_a_deployed_essential_is_one_line(sosw_tables, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["tick", "orchestrator"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sosw: error:") and "Traceback" not in err


def test_status_json_is_one_document_with_every_state(sosw_tables, ddb, capsys):
    task_config = {"labourers": {"w1": {"max_simultaneous_invocations": 2}}, "read_labourer_timeout": False}
    ddb.put_item(TableName=constants.DEFAULT_CONFIG_TABLE, Item={
        "env": {"S": "production"}, "config_name": {"S": constants.ESSENTIAL_CONFIG_NAME},
        "config_value": {"S": json.dumps({"task_config": task_config})}})
    task_manager = TaskManager(custom_config=task_config)
    task_manager.create_tasks(task_manager.get_labourer("w1"), [{"n": n} for n in range(2)])

    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"w1": {"queued": 2, "running": 0, "expired": 0, "retrying": 0,
                                                          "completed": 0, "closed": 0, "dead": 0}}


def test_tick_of_an_essential_not_deployed_says_to_deploy(aws, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", aws.endpoint)  # moto's Lambda: it has no sosw_orchestrator
    assert main(["tick", "orchestrator"]) == 1
    err = capsys.readouterr().err
    assert "sosw_orchestrator is not deployed where boto3 points (us-west-2 at http://127.0.0.1:" in err
    assert "run sosw deploy" in err


def test_cleanup_with_nothing_deployed(aws, capsys):
    assert main(["cleanup", "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {}


def _essential_rows(ddb, **rows):
    for name, value in rows.items():
        ddb.put_item(TableName=constants.DEFAULT_CONFIG_TABLE, Item={
            "env": {"S": "production"}, "config_name": {"S": name}, "config_value": {"S": json.dumps(value)}})


def test_status_reports_an_essential_whose_settings_are_refused(sosw_tables, ddb, capsys):
    task_config = {"labourers": {"w1": {"max_simultaneous_invocations": 2}}, "read_labourer_timeout": False}
    _essential_rows(ddb, sosw_essential_config={"task_config": task_config},
                    sosw_scavenger_config={"min_retry_delay": "soon"})

    assert main(["status"]) == 1

    out, err = capsys.readouterr()
    assert out.splitlines()[2].split()[0] == "w1"  # the table still comes first
    assert "sosw_scavenger: sosw_scavenger_config.min_retry_delay" in err and "'soon'" in err


def test_status_warns_of_a_labourer_whose_lambda_retries_async_invocations(sosw_tables, ddb, capsys):
    import boto3

    task_config = {"labourers": {"w1": {}, "w2": {}}, "read_labourer_timeout": False}
    _essential_rows(ddb, sosw_essential_config={"task_config": task_config})
    lam = boto3.client("lambda")
    role = boto3.client("iam").create_role(RoleName="w", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for name in ("w1", "w2"):
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.lambda_handler",
                            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    lam.put_function_event_invoke_config(FunctionName="w2", MaximumRetryAttempts=0)

    assert main(["status"]) == 0

    err = capsys.readouterr().err
    assert "w1: Lambda retries its asynchronous invocations 2 time(s)" in err
    assert "w2:" not in err
