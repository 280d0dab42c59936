"""
The moto behaviour that sosw.local._moto_patches relies on, pinned: each test shows what moto does unpatched (why the
patch exists) and what it does patched, in process with ``moto.mock_aws``. A moto upgrade that moves or changes an
internal the patches use fails here, not in a random test of the embedded runtime.
"""

import copy
import io
import threading
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import models as dynamodb_models

from sosw.local import _moto_patches

TABLE = {
    "TableName": "tasks",
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}
TOPIC_STACK = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: {name}\n"
WORKER_STACK = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: worker_role
      AssumeRolePolicyDocument: {{}}
  WorkerFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: worker
      Runtime: python3.12
      Handler: app.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: "def handler(event, context): return 1"
  EventInvokeConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref WorkerFunction
      Qualifier: $LATEST
      MaximumRetryAttempts: {retries}
"""


@pytest.fixture
def moto(monkeypatch):
    """moto in this process: boto3 without the suite's closed endpoint reaches moto's mock."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


def patch_moto(monkeypatch):
    """The patches of the server, undone after the test."""
    _moto_patches.apply(monkeypatch.setattr)


class CopyRecorder:
    """Stands for the ``copy`` module and counts the deep copies of DynamoDB tables."""

    def __init__(self):
        self.tables = 0

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, obj, memo=None):
        self.tables += isinstance(obj, dynamodb_models.Table)
        return copy.deepcopy(obj, memo)


def put(item_id: str, condition: str = "") -> dict:
    request = {"TableName": "tasks", "Item": {"id": {"S": item_id}}}
    return {"Put": {**request, "ConditionExpression": condition} if condition else request}


def test_a_transaction_copies_no_table_and_a_failed_one_puts_back_exactly_its_items(moto, monkeypatch):
    ddb = boto3.client("dynamodb")
    ddb.create_table(**TABLE)

    # moto snapshots through its module's `copy`: the whole table, once per action.
    recorder = CopyRecorder()
    monkeypatch.setattr(dynamodb_models, "copy", recorder)
    ddb.transact_write_items(TransactItems=[put("a"), put("b"), put("c")])
    assert recorder.tables == 3

    patch_moto(monkeypatch)
    recorder = CopyRecorder()
    monkeypatch.setattr(_moto_patches, "copy", recorder)
    ddb.transact_write_items(TransactItems=[put("d"), put("e"), put("f")])
    assert recorder.tables == 0

    # A failed transaction leaves nothing of itself: a new item goes, a changed one comes back as it was.
    update = {"Update": {"TableName": "tasks", "Key": {"id": {"S": "b"}}, "UpdateExpression": "SET n = :n",
                         "ExpressionAttributeValues": {":n": {"N": "1"}}}}
    delete = {"Delete": {"TableName": "tasks", "Key": {"id": {"S": "c"}}}}
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[put("g"), update, delete, put("a", "attribute_not_exists(id)")])
    items = sorted((item["id"]["S"], "n" in item) for item in ddb.scan(TableName="tasks")["Items"])
    assert items == [(name, False) for name in "abcdef"]


def test_dynamodb_models_are_not_kept_forever(moto, monkeypatch):
    ddb = boto3.client("dynamodb")
    ddb.create_table(**TABLE)
    ddb.put_item(TableName="tasks", Item={"id": {"S": "a"}})
    assert dynamodb_models.Item.instances_tracked  # moto keeps every Item it ever made

    patch_moto(monkeypatch)
    dynamodb_models.Item.instances_tracked.clear()
    for n in range(5):
        ddb.put_item(TableName="tasks", Item={"id": {"S": f"b{n}"}})
        ddb.transact_write_items(TransactItems=[put(f"c{n}")])
    assert dynamodb_models.Item.instances_tracked == []
    assert ddb.scan(TableName="tasks", Select="COUNT")["Count"] == 11


def test_every_dynamodb_request_goes_through_the_serialized_call_action(moto, monkeypatch):
    entered = []

    class RecordingLock:
        def __enter__(self):
            entered.append(threading.current_thread().name)

        def __exit__(self, *exc):
            return None

    patch_moto(monkeypatch)
    monkeypatch.setattr(_moto_patches, "_DYNAMODB_LOCK", RecordingLock())
    ddb = boto3.client("dynamodb")
    ddb.create_table(**TABLE)
    ddb.put_item(TableName="tasks", Item={"id": {"S": "a"}})
    assert len(entered) == 2


def test_an_update_without_changes_is_refused_as_on_aws(moto, monkeypatch):
    cloudformation = boto3.client("cloudformation")
    template = TOPIC_STACK.format(name="topic")
    cloudformation.create_stack(StackName="topics", TemplateBody=template)

    cloudformation.update_stack(StackName="topics", TemplateBody=template)  # moto: a successful update

    patch_moto(monkeypatch)
    with pytest.raises(ClientError, match="No updates are to be performed."):
        cloudformation.update_stack(StackName="topics", TemplateBody=template)
    cloudformation.update_stack(StackName="topics", TemplateBody=TOPIC_STACK.format(name="other"))
    assert cloudformation.describe_stacks(StackName="topics")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def create_function(name: str) -> None:
    role = boto3.client("iam").create_role(RoleName=f"{name}_role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    boto3.client("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                                           Code={"ZipFile": package.getvalue()})


def test_a_second_put_of_an_event_invoke_config_replaces_the_first(moto, monkeypatch):
    lam = boto3.client("lambda")
    create_function("worker")

    lam.put_function_event_invoke_config(FunctionName="worker", MaximumRetryAttempts=0)
    lam.put_function_event_invoke_config(FunctionName="worker", MaximumRetryAttempts=1)
    assert lam.get_function_event_invoke_config(FunctionName="worker")["MaximumRetryAttempts"] == 0  # moto: first

    patch_moto(monkeypatch)
    lam.put_function_event_invoke_config(FunctionName="worker", MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60)
    config = lam.get_function_event_invoke_config(FunctionName="worker")
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 60)


def test_a_stack_creates_updates_and_deletes_its_event_invoke_config(moto, monkeypatch):
    cloudformation, lam = boto3.client("cloudformation"), boto3.client("lambda")
    arguments = {"StackName": "worker", "Capabilities": ["CAPABILITY_NAMED_IAM"]}
    with pytest.warns(UserWarning, match="AWS::Lambda::EventInvokeConfig"):  # moto skips the resource
        cloudformation.create_stack(TemplateBody=WORKER_STACK.format(retries=0), **arguments)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName="worker")
    cloudformation.delete_stack(StackName="worker")

    patch_moto(monkeypatch)
    cloudformation.create_stack(TemplateBody=WORKER_STACK.format(retries=0), **arguments)
    assert lam.get_function_event_invoke_config(FunctionName="worker")["MaximumRetryAttempts"] == 0
    resources = cloudformation.describe_stack_resources(StackName="worker")["StackResources"]
    assert {r["LogicalResourceId"]: r["ResourceType"] for r in resources}["EventInvokeConfig"] == \
        _moto_patches.EVENT_INVOKE_CONFIG

    cloudformation.update_stack(TemplateBody=WORKER_STACK.format(retries=1), **arguments)
    assert lam.get_function_event_invoke_config(FunctionName="worker")["MaximumRetryAttempts"] == 1

    cloudformation.delete_stack(StackName="worker")
    assert lam.list_functions()["Functions"] == []
    assert cloudformation.list_stacks()["StackSummaries"][0]["StackStatus"] == "DELETE_COMPLETE"
