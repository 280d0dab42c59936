"""
Every name and default that more than one module needs: table and index names, environment variables, the greenfield
arithmetic and the DynamoDB schemas of the shared tables. Change a fact here and every module, the local runtime and
the tests follow.
"""

from typing import Any, Dict, List, Optional

# Environment variables.
ENV_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
ENV_STAGE = "STAGE"
ENV_CONFIG_TABLE = "SOSW_CONFIG_TABLE"
ENV_CONFIG_ENV = "SOSW_CONFIG_ENV"
ENV_REGION = "AWS_REGION"
ENV_DEFAULT_REGION = "AWS_DEFAULT_REGION"

# Config source.
DEFAULT_CONFIG_TABLE = "config"
AUTOTEST_CONFIG_TABLE = "autotest_config"
DEFAULT_CONFIG_ENV = "production"
AUTOTEST_PREFIX = "autotest_"
TEST_STAGES = ("test", "autotest")
ESSENTIAL_CONFIG_NAME = "sosw_essential_config"

# Shared tables and their indexes.
TASKS_TABLE = "sosw_tasks"
TASKS_GREENFIELD_INDEX = "sosw_tasks_greenfield"
CLOSED_TASKS_TABLE = "sosw_closed_tasks"
CLOSED_TASKS_STATUS_INDEX = "labourer_task_status_with_time"
RETRY_TASKS_TABLE = "sosw_retry_tasks"
RETRY_TASKS_GREENFIELD_INDEX = "labourer_id_greenfield"
META_TABLE = "sosw_tasks_meta"

# Essentials and notifications.
WORKER_ASSISTANT_LAMBDA = "sosw_worker_assistant"
DEAD_SNS_TOPIC = "SoswWorkerErrors"
AUTOTEST_SNS_TOPIC = "autotest_topic"  # the original's; its test-mode recipient was this topic in us-west-2
SCHEDULER_QUEUE_PREFIX = "sosw/scheduler/"

# The greenfield state machine (see docs/greenfield.rst).
GREENFIELD_INVOCATION_DELTA = 31_557_600  # one Julian year, seconds
GREENFIELD_TASK_STEP = 1000
FIRST_GREENFIELD = 1000
DEFAULT_DURATION = 900
DEFAULT_COOLDOWN = 300
DEFAULT_MAX_ATTEMPTS = 3
INVOCATION_NUMBER_COEFFICIENT = {0: 0, 1: 0, 2: 0.5, 3: 0.75, 4: 1}

# DynamoDB hard limits.
BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
TRANSACT_WRITE_LIMIT = 100


def _key(hash_key: str, hash_type: str, range_key: Optional[str] = None,
         range_type: Optional[str] = None) -> Dict[str, Any]:
    attrs: List[Dict[str, Any]] = [{"AttributeName": hash_key, "AttributeType": hash_type}]
    schema: List[Dict[str, Any]] = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": range_key, "AttributeType": range_type})
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return {"attrs": attrs, "schema": schema}


def _table(name: str, key: Dict[str, Any], indexes: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Any]:
    """CreateTable arguments, on-demand billing, projection ALL on every global secondary index."""
    definitions = {a["AttributeName"]: a for a in key["attrs"]}
    gsis = []
    for index_name, index_key in (indexes or {}).items():
        definitions.update({a["AttributeName"]: a for a in index_key["attrs"]})
        gsis.append(
            {"IndexName": index_name, "KeySchema": index_key["schema"], "Projection": {"ProjectionType": "ALL"}}
        )
    spec: Dict[str, Any] = {
        "TableName": name,
        "KeySchema": key["schema"],
        "AttributeDefinitions": list(definitions.values()),
        "BillingMode": "PAY_PER_REQUEST",
    }
    if gsis:
        spec["GlobalSecondaryIndexes"] = gsis
    return spec


#: CreateTable arguments of the shared tables, by default table name. The CloudFormation templates under
#: ``examples/yaml/initial`` declare the same keys and indexes (a test compares them).
TABLE_SCHEMAS: Dict[str, Dict[str, Any]] = {
    TASKS_TABLE: _table(
        TASKS_TABLE,
        _key("task_id", "S"),
        {TASKS_GREENFIELD_INDEX: _key("labourer_id", "S", "greenfield", "N")},
    ),
    CLOSED_TASKS_TABLE: _table(
        CLOSED_TASKS_TABLE,
        _key("task_id", "S"),
        {CLOSED_TASKS_STATUS_INDEX: _key("labourer_id_task_status", "S", "closed_at", "N")},
    ),
    RETRY_TASKS_TABLE: _table(
        RETRY_TASKS_TABLE,
        _key("labourer_id", "S", "task_id", "S"),
        {RETRY_TASKS_GREENFIELD_INDEX: _key("labourer_id", "S", "desired_launch_time", "N")},
    ),
    META_TABLE: _table(META_TABLE, _key("task_id", "S", "created_at", "N")),
    DEFAULT_CONFIG_TABLE: _table(DEFAULT_CONFIG_TABLE, _key("env", "S", "config_name", "S")),
}
