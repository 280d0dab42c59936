"""Configs in the DynamoDB config table (the default), in SSM Parameter Store, and credentials by prefix."""

import json
import os

import boto3

from sosw.components.config import ConfigSource, get_config, get_credentials_by_prefix, update_config

# The config table: 'config' unless SOSW_CONFIG_TABLE names another (and env 'production' unless SOSW_CONFIG_ENV).
update_config("my_function_config", {"batch_size": 10, "api": {"timeout": 5}})
assert get_config("my_function_config") == {"batch_size": 10, "api": {"timeout": 5}}
assert get_config("no_such_config") == {}

# Rows are plain items: env (hash key), config_name (range key), config_value (JSON text).
item = boto3.client("dynamodb").get_item(
    TableName="config", Key={"env": {"S": "production"}, "config_name": {"S": "my_function_config"}})["Item"]
assert json.loads(item["config_value"]["S"])["batch_size"] == 10

# Credentials by prefix: twitter_key and twitter_secret -> {'key': ..., 'secret': ...}, always as text.
update_config("twitter_key", "0123456789")
update_config("twitter_secret", "s3cr3t")
assert get_credentials_by_prefix("twitter") == {"key": "0123456789", "secret": "s3cr3t"}

# Another environment in the same table, e.g. staging rows beside production ones.
os.environ["SOSW_CONFIG_ENV"] = "staging"
try:
    update_config("my_function_config", {"batch_size": 2})
    assert get_config("my_function_config") == {"batch_size": 2}
finally:
    del os.environ["SOSW_CONFIG_ENV"]
assert get_config("my_function_config")["batch_size"] == 10

# SSM Parameter Store as a second source: one JSON parameter per config name.
source = ConfigSource(sources="Dynamo,SSM")
source.ssm_config.update_config("legacy_config", {"from": "ssm"})
assert source.ssm_config.get_config("legacy_config") == {"from": "ssm"}
assert source.get_config("my_function_config")["batch_size"] == 10  # the first source is the default
