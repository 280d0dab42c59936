"""Config sources and secrets as users of sosw 0.7.47 rely on them: their tests patch
``sosw.components.config.DynamoConfig`` / ``SSMConfig`` and assign MagicMocks to ``*_client`` attributes; the rest
runs against the moto server with the original's tables."""

import logging
from unittest.mock import MagicMock, patch

import boto3
import pytest
from botocore.exceptions import ClientError

from sosw.app import Processor
from sosw.components.config import (
    ConfigSource,
    DynamoConfig,
    SecretsManager,
    SSMConfig,
    get_config,
    get_secrets_credentials,
)


class MyProcessor(Processor):
    DEFAULT_CONFIG = {"batch_size": 10}


# get_secrets_credentials ----------------------------------------------------------------------------------------


def test_get_secrets_credentials_by_name_returns_secret_name_and_secret_string_text(aws):
    boto3.client("secretsmanager").create_secret(Name="db_password", SecretString='{"password": "pw"}')

    assert get_secrets_credentials(type="name", value="db_password") == {"db_password": '{"password": "pw"}'}


def test_get_secrets_credentials_by_tag_returns_secret_string_text(aws):
    client = boto3.client("secretsmanager")
    client.create_secret(Name="project_a_db", SecretString='{"user": "admin"}',
                         Tags=[{"Key": "project", "Value": "project_a"}])
    client.create_secret(Name="project_a_token", SecretString="t0k3n", Tags=[{"Key": "project", "Value": "project_a"}])
    client.create_secret(Name="project_b_db", SecretString="{}", Tags=[{"Key": "project", "Value": "project_b"}])

    assert SecretsManager().get_secrets_credentials(type="tag", value="project_a") == {
        "project_a_db": '{"user": "admin"}',
        "project_a_token": "t0k3n",
    }


def test_get_secrets_credentials_returns_empty_dict_when_nothing_matches(aws):
    assert get_secrets_credentials(type="name", value="no_such_secret") == {}


@pytest.mark.parametrize("kwargs", [
    {"value": "db_password"},
    {"type": "arn", "value": "db_password"},
    {"type": "name"},
    {"type": "tag", "value": ""},
])
def test_get_secrets_credentials_raises_key_error_for_missing_or_invalid_type_or_value(kwargs):
    with patch("boto3.client") as boto3_client:
        manager = SecretsManager()

        with pytest.raises(KeyError):
            manager.get_secrets_credentials(**kwargs)

    boto3_client.return_value.list_secrets.assert_not_called()


def test_secrets_manager_client_and_call_boto_secrets_with_pagination():
    manager = SecretsManager()
    manager.secretsmanager_client = MagicMock()
    manager.secretsmanager_client.can_paginate.return_value = False
    manager.secretsmanager_client.list_secrets.side_effect = [
        {"SecretList": [{"Name": "a", "ARN": "arn:a"}], "NextToken": "page2"},
        {"SecretList": [{"Name": "b", "ARN": "arn:b"}]},
    ]
    manager.secretsmanager_client.get_secret_value.side_effect = lambda SecretId: {"SecretString": f"{SecretId}!"}

    pages = manager.call_boto_secrets_with_pagination("list_secrets", Filters=[])
    assert [p["SecretList"][0]["Name"] for p in pages] == ["a", "b"]

    manager.secretsmanager_client.list_secrets.side_effect = [
        {"SecretList": [{"Name": "a", "ARN": "arn:a"}], "NextToken": "page2"},
        {"SecretList": [{"Name": "b", "ARN": "arn:b"}]},
    ]
    assert manager.get_secrets_credentials(type="tag", value="t") == {"a": "arn:a!", "b": "arn:b!"}
    assert manager.secretsmanager_client.list_secrets.call_args.kwargs["NextToken"] == "page2"


# ConfigSource ----------------------------------------------------------------------------------------------------


def test_config_source_supported_sources():
    assert ConfigSource.SUPPORTED_SOURCES == ("Dynamo", "SSM")


def test_config_source_unsupported_source_raises_assertion_error():
    with pytest.raises(AssertionError, match="sources"):
        ConfigSource(sources="Dynamo,Redis")


def test_patched_dynamo_config_is_looked_up_at_call_time():
    with patch("sosw.components.config.DynamoConfig") as dynamo_config:
        dynamo_config.return_value.get_config.return_value = {"from": "mock"}

        assert get_config("my_function_config") == {"from": "mock"}
        assert ConfigSource().get_config("other_config") == {"from": "mock"}

    assert [c.args for c in dynamo_config.return_value.get_config.call_args_list] == [
        ("my_function_config",), ("other_config",),
    ]


def test_patched_ssm_config_is_looked_up_at_call_time():
    with patch("sosw.components.config.SSMConfig") as ssm_config:
        source = ConfigSource(sources="SSM")

    assert source.default_source is ssm_config.return_value
    assert source.ssm_config is ssm_config.return_value


# DynamoConfig ----------------------------------------------------------------------------------------------------


def test_missing_config_table_makes_get_config_return_empty_dict_and_log(aws, caplog):
    source = DynamoConfig()

    with caplog.at_level(logging.WARNING, logger="sosw.components.config"):
        assert source.get_config("my_function_config") == {}

    assert source.no_ddb_access is True
    assert "config" in caplog.text and "my_function_config" in caplog.text


def test_missing_config_table_or_row_never_crashes_a_processor_construction(aws, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_function")

    assert MyProcessor().config == {"batch_size": 10}  # no table

    boto3.client("dynamodb").create_table(
        TableName="config", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "env", "KeyType": "HASH"}, {"AttributeName": "config_name", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "env", "AttributeType": "S"},
                              {"AttributeName": "config_name", "AttributeType": "S"}])
    assert MyProcessor().config == {"batch_size": 10}  # no row


def test_access_denied_makes_get_config_return_empty_dict_with_no_ddb_access():
    source = DynamoConfig()
    source.dynamo_client = MagicMock()
    source.dynamo_client.get_by_query.side_effect = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "Query")

    assert source.get_config("my_function_config") == {}
    assert source.no_ddb_access is True
    source.dynamo_client.get_by_query.assert_called_once()


def test_dynamo_client_is_an_assignable_attribute():
    source = DynamoConfig()
    source.dynamo_client = MagicMock()
    source.dynamo_client.get_by_query.return_value = [
        {"env": "production", "config_name": "my_function_config", "config_value": '{"batch_size": 5}'},
    ]

    assert source.get_config("my_function_config") == {"batch_size": 5}
    assert source.dynamo_client.get_by_query.call_args.kwargs["keys"] == {
        "env": "production", "config_name": "my_function_config",
    }
    assert source.no_ddb_access is False


# SSMConfig -------------------------------------------------------------------------------------------------------


def test_ssm_client_is_an_assignable_attribute():
    ssm = SSMConfig()
    ssm.ssm_client = MagicMock()
    ssm.ssm_client.get_parameters.return_value = {"Parameters": [{"Name": "x_config", "Value": '{"a": 1}'}]}

    assert ssm.get_config("x_config") == {"a": 1}


def test_ssm_call_boto_with_pagination_terminates_on_next_token():
    ssm = SSMConfig()
    ssm.ssm_client = MagicMock()
    ssm.ssm_client.can_paginate.return_value = False
    ssm.ssm_client.get_parameters_by_path.side_effect = [
        {"Parameters": [{"Name": "a"}], "NextToken": "t1"},
        {"Parameters": [{"Name": "b"}], "NextToken": "t2"},
        {"Parameters": [{"Name": "c"}]},
    ]

    pages = ssm.call_boto_with_pagination("get_parameters_by_path", Path="/app")

    assert [p["Parameters"][0]["Name"] for p in pages] == ["a", "b", "c"]
    assert [c.kwargs.get("NextToken") for c in ssm.ssm_client.get_parameters_by_path.call_args_list] == [
        None, "t1", "t2",
    ]


def test_ssm_call_boto_with_pagination_uses_native_paginators(aws):
    client = boto3.client("ssm")
    for i in range(15):
        client.put_parameter(Name=f"app_key{i:02}", Value="v", Type="String")

    pages = SSMConfig().call_boto_with_pagination("describe_parameters")

    assert len(pages) >= 2
    assert sorted(p["Name"] for page in pages for p in page["Parameters"]) == [f"app_key{i:02}" for i in range(15)]
