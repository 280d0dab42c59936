"""Config sources against moto: the DynamoDB config table, SSM Parameter Store and Secrets Manager."""

import json

import boto3
import pytest

import sosw.app
from sosw import constants
from sosw.app import Processor
from sosw.components.config import (
    ConfigSource,
    DynamoConfig,
    SecretsManager,
    SSMConfig,
    get_config,
    get_credentials_by_prefix,
    get_secrets_credentials,
    update_config,
)
from sosw.exceptions import ConfigError, InvalidChoice


def config_table(make_table, name: str) -> str:
    spec = dict(constants.TABLE_SCHEMAS[constants.DEFAULT_CONFIG_TABLE], TableName=name)
    return make_table(spec)


def row(ddb, table: str, name: str, env: str = "production"):
    item = ddb.get_item(TableName=table, Key={"env": {"S": env}, "config_name": {"S": name}}).get("Item")
    return json.loads(item["config_value"]["S"]) if item else None


def put_row(ddb, table: str, name: str, text: str, env: str = "production") -> None:
    ddb.put_item(TableName=table, Item={"env": {"S": env}, "config_name": {"S": name}, "config_value": {"S": text}})


class Worker(Processor):
    DEFAULT_CONFIG = {"batch": 10, "db": {"host": "localhost", "port": 5432}, "labels": ["default"]}


ROW = {"db": {"host": "db.internal"}, "labels": ["row"], "retries": 3}
CUSTOM = {"batch": 20, "labels": ["custom"]}
MERGED = {"batch": 20, "db": {"host": "db.internal", "port": 5432}, "labels": ["default", "row", "custom"],
          "retries": 3}


# DynamoDB --------------------------------------------------------------------------------------------------------


def test_module_functions_use_the_config_table(sosw_tables, ddb):
    update_config("my_function_config", {"batch": 5, "nested": {"a": [1, 2]}})

    assert row(ddb, "config", "my_function_config") == {"batch": 5, "nested": {"a": [1, 2]}}
    assert get_config("my_function_config") == {"batch": 5, "nested": {"a": [1, 2]}}
    assert get_config("missing_config") == {}


def test_table_name_by_argument_and_by_environment(make_table, ddb, monkeypatch):
    config_table(make_table, "by_argument")
    config_table(make_table, "by_environment")

    DynamoConfig(table_name="by_argument").update_config("x_config", {"from": "argument"})
    assert row(ddb, "by_argument", "x_config") == {"from": "argument"}

    monkeypatch.setenv("SOSW_CONFIG_TABLE", "by_environment")
    update_config("x_config", {"from": "environment"})
    assert row(ddb, "by_environment", "x_config") == {"from": "environment"}
    assert get_config("x_config") == {"from": "environment"}
    assert DynamoConfig(table_name="by_argument").get_config("x_config") == {"from": "argument"}


def test_test_mode_uses_the_autotest_table(sosw_tables, make_table, ddb, monkeypatch):
    config_table(make_table, "autotest_config")

    update_config("x_config", {"stage": "test"}, test=True)
    assert row(ddb, "autotest_config", "x_config") == {"stage": "test"}
    assert row(ddb, "config", "x_config") is None

    monkeypatch.setenv("STAGE", "test")
    assert get_config("x_config") == {"stage": "test"}
    assert DynamoConfig().table_name == "autotest_config"


def test_env_key_selects_the_rows(sosw_tables, ddb):
    DynamoConfig(env="staging").update_config("x_config", {"env": "staging"})
    DynamoConfig().update_config("x_config", {"env": "production"})

    assert row(ddb, "config", "x_config", env="staging") == {"env": "staging"}
    assert DynamoConfig(env="staging").get_config("x_config") == {"env": "staging"}
    assert get_config("x_config") == {"env": "production"}


def test_credentials_by_prefix_from_dynamo(sosw_tables, ddb):
    put_row(ddb, "config", "twitter_key", "k3y")
    put_row(ddb, "config", "twitter_secret", "123456")
    put_row(ddb, "config", "twitterless_thing", "no")
    put_row(ddb, "config", "twitter_other_env", "no", env="staging")

    # Credentials stay text, even when they look like numbers.
    assert get_credentials_by_prefix("twitter") == {"key": "k3y", "secret": "123456"}
    assert get_credentials_by_prefix("twitter_") == {"key": "k3y", "secret": "123456"}


def test_malformed_json_names_the_row(sosw_tables, ddb):
    put_row(ddb, "config", "broken_config", '{"batch": 5,')

    with pytest.raises(ConfigError) as err:
        get_config("broken_config")

    assert err.value.config_name == "broken_config"
    assert "broken_config" in str(err.value)


def test_processor_merges_default_row_and_custom_config(sosw_tables, monkeypatch):
    update_config("x_config", ROW)
    update_config("y_config", {"batch": 99})
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "x")

    assert Worker(custom_config=CUSTOM).config == MERGED


# SSM -------------------------------------------------------------------------------------------------------------


def test_ssm_get_and_update():
    ssm = SSMConfig()

    ssm.update_config("x_config", {"batch": 1})
    ssm.update_config("x_config", {"batch": 2})  # overwrites

    stored = boto3.client("ssm").get_parameter(Name="x_config")["Parameter"]
    assert json.loads(stored["Value"]) == {"batch": 2}
    assert ssm.get_config("x_config") == {"batch": 2}
    assert ssm.get_config("missing_config") == {}


def test_ssm_credentials_by_prefix_follow_pages_and_stop():
    client = boto3.client("ssm")
    for i in range(23):
        client.put_parameter(Name=f"service_key{i:02}", Value=f"value{i}", Type="SecureString")
    client.put_parameter(Name="servicex_key", Value="not mine", Type="String")
    pages = []
    client.meta.events.register("after-call.ssm.DescribeParameters", lambda **kwargs: pages.append(1))

    credentials = SSMConfig(client=client).get_credentials_by_prefix("service")

    assert credentials == {f"key{i:02}": f"value{i}" for i in range(23)}
    assert len(pages) >= 3  # moto returns 10 parameters a page


def test_ssm_malformed_json_names_the_parameter():
    boto3.client("ssm").put_parameter(Name="broken_config", Value="[1, 2", Type="String")

    with pytest.raises(ConfigError, match="broken_config"):
        SSMConfig().get_config("broken_config")


def test_processor_merge_with_ssm_as_the_source(monkeypatch):
    source = ConfigSource(sources="SSM")
    source.update_config("x_config", ROW)
    monkeypatch.setattr(sosw.app, "get_config", lambda name, test=False: source.get_config(name))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "x")

    assert Worker(custom_config=CUSTOM).config == MERGED


def test_config_source_selects_the_default(sosw_tables):
    source = ConfigSource(sources="Dynamo,SSM")
    source.update_config("x_config", {"from": "dynamo"})
    source.ssm_config.update_config("x_config", {"from": "ssm"})

    assert isinstance(source.default_source, DynamoConfig)
    assert source.get_config("x_config") == {"from": "dynamo"}
    assert ConfigSource(sources="SSM").get_config("x_config") == {"from": "ssm"}
    with pytest.raises(ConfigError, match="sources"):
        ConfigSource(sources="Redis")


# Secrets Manager -------------------------------------------------------------------------------------------------


def test_secrets_by_name_and_by_tag():
    client = boto3.client("secretsmanager")
    client.create_secret(Name="db", SecretString='{"user": "admin", "password": "pw"}',
                         Tags=[{"Key": "team", "Value": "sosw"}])
    client.create_secret(Name="api", SecretString="plain-token", Tags=[{"Key": "team", "Value": "sosw"}])
    client.create_secret(Name="foreign", SecretString="{}", Tags=[{"Key": "team", "Value": "other"}])

    # As the original: {name: SecretString}, the text as stored, for both kinds of search.
    assert SecretsManager().get_secrets_credentials(type="name", value="db") == {
        "db": '{"user": "admin", "password": "pw"}',
    }
    assert get_secrets_credentials(type="name", value="api") == {"api": "plain-token"}
    assert SecretsManager().get_secrets_credentials(type="tag", value="sosw") == {
        "db": '{"user": "admin", "password": "pw"}',
        "api": "plain-token",
    }
    assert get_secrets_credentials(type="tag", value="nobody") == {}


def test_secrets_arguments_are_checked():
    with pytest.raises(InvalidChoice, match="value") as err:
        SecretsManager().get_secrets_credentials(type="name")
    assert err.value.field == "value"
    with pytest.raises(InvalidChoice, match="type") as err:
        SecretsManager().get_secrets_credentials(type="arn", value="x")
    assert err.value.field == "type"

