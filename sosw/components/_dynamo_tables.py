"""Tables: which one a call means (and whether test mode allows it), and what a DescribeTable response says about it:
its keys, its active indexes, its provisioned capacity, and how long to wait to stay within that capacity."""

import datetime
import os
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from sosw import constants
from sosw.exceptions import InvalidTableName


def resolve_table(table_name: Optional[str], default: Optional[str], test: bool) -> str:
    """The table a call means: ``table_name``, else the client's ``default``.

    :param test: Test mode: only ``autotest_*`` tables and the config table are allowed.
    :raises ~sosw.exceptions.InvalidTableName: No table, or one that test mode refuses.
    """
    name = table_name or default
    if not name:
        raise InvalidTableName("not given and not in the client's config", field="table_name")
    if test and not name.startswith(constants.AUTOTEST_PREFIX) and name not in (
        constants.DEFAULT_CONFIG_TABLE, constants.AUTOTEST_CONFIG_TABLE, os.environ.get(constants.ENV_CONFIG_TABLE),
    ):
        raise InvalidTableName(f"{name!r} refused in test mode; use a table named {constants.AUTOTEST_PREFIX}*",
                               field="table_name", value=name)
    return name


def key_names(key_schema: Sequence[Mapping[str, Any]]) -> Tuple[str, Optional[str]]:
    """The hash key name and the range key name (None if there is none) of a ``KeySchema``."""
    hash_key = next(k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH")
    range_key = next((k["AttributeName"] for k in key_schema if k["KeyType"] == "RANGE"), None)
    return hash_key, range_key


def active_indexes(description: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Active secondary indexes: ``{name: {'projection_type', 'hash_key', 'range_key',
    'provisioned_throughput': {'write_capacity', 'read_capacity'}}}``."""
    result = {}
    for index in [*description.get("GlobalSecondaryIndexes", []), *description.get("LocalSecondaryIndexes", [])]:
        if index.get("IndexStatus", "ACTIVE") != "ACTIVE":
            continue
        hash_key, range_key = key_names(index["KeySchema"])
        throughput = index.get("ProvisionedThroughput", {})
        result[index["IndexName"]] = {
            "projection_type": index["Projection"]["ProjectionType"],
            "hash_key": hash_key,
            "range_key": range_key,
            "provisioned_throughput": {
                "write_capacity": throughput.get("WriteCapacityUnits", 0),
                "read_capacity": throughput.get("ReadCapacityUnits", 0),
            },
        }
    return result


def provisioned_capacity(description: Mapping[str, Any]) -> Dict[str, int]:
    """Provisioned ``{'read': RCU, 'write': WCU}``; zeros for on-demand tables."""
    throughput = description.get("ProvisionedThroughput", {})
    return {"read": int(throughput.get("ReadCapacityUnits", 0)),
            "write": int(throughput.get("WriteCapacityUnits", 0))}


def seconds_to_wait(capacity: int, last_action_time: datetime.datetime) -> float:
    """Seconds left until one more action fits in ``capacity`` actions a second after ``last_action_time``; 0 for
    on-demand tables (no capacity)."""
    if capacity <= 0:
        return 0.0
    return max(0.0, 1.0 / capacity - (datetime.datetime.now() - last_action_time).total_seconds())
