"""
How many tasks an Orchestrator run invokes: floor(max_simultaneous_invocations × coefficient[health]) − running,
with health read from CloudWatch datapoints (put into moto) and coefficients from config with int or string keys.
"""

import datetime
import json

import boto3
import pytest

from sosw import constants
from tests.integration.lifecycle.conftest import EXPIRY, SilentWorker, by_id

LIMIT = 8
RUNNING = 2
NAMESPACE = "Sosw/Lifecycle"


def put_datapoint(metric_name: str, value: float) -> dict:
    """One datapoint of ``metric_name`` half a minute ago (CloudWatch, and moto, leave out datapoints of the current
    second); the ``details`` of a health metric that reads it."""
    dimensions = [{"Name": "Cluster", "Value": "db1"}]
    boto3.client("cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=[{
        "MetricName": metric_name, "Dimensions": dimensions, "Value": value, "Unit": "Percent",
        "Timestamp": datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30),
    }])
    return {"Namespace": NAMESPACE, "MetricName": metric_name, "Dimensions": dimensions, "Period": 60,
            "Statistics": ["Average"], "MetricAggregationTimeSlice": 600}


def queue_with_running_tasks(env, name: str, count: int = 12, running: int = RUNNING):
    """``count`` queued tasks, of which the first ``running`` are invoked (and never report back)."""
    tm = env.task_manager()
    ids = tm.create_tasks(tm.get_labourer(name), [{"n": i} for i in range(count)])
    if running:
        labourer = tm.register_labourers(health=False)[0]
        assert len(tm.invoke_tasks(labourer, tm.get_next_for_labourer(labourer, cnt=running))) == running
    return ids


def invoked_count() -> int:
    return sum(1 for task in by_id(constants.TASKS_TABLE).values() if task["attempts"] == 1)


@pytest.mark.parametrize("operator, feelings, health", [
    ("<=", {"3": 50, "4": 10}, 3),      # 50 <= 50
    ("<", {"2": 60, "3": 40}, 2),       # 50 < 60, not < 40
    (">=", {"3": 50, "4": 70}, 3),      # 50 >= 50
    (">", {"2": 40, "3": 60}, 2),       # 50 > 40, not > 60
    ("==", {"3": 50, "4": 49}, 3),
    (">", {"2": 60, "3": 90}, 0),       # satisfies none: Bad
])
def test_health_from_cloudwatch_scales_invocations(lifecycle, operator, feelings, health):
    details = put_datapoint("Load", 50)
    env = lifecycle({"w": {"max_simultaneous_invocations": LIMIT, "health_metrics": {
        "load": {"details": details, "feelings": feelings, "feeling_comparison_operator": operator}}}},
        workers={"w": SilentWorker})
    queue_with_running_tasks(env, "w")
    orchestrator = env.orchestrator()

    [labourer] = orchestrator.task_client.register_labourers()
    assert labourer.get_attr("health") == health
    expected = max(int(LIMIT * constants.INVOCATION_NUMBER_COEFFICIENT[health]) - RUNNING, 0)
    assert orchestrator({}) == {"w": expected}
    assert invoked_count() == RUNNING + expected
    env.wait()


def test_worst_metric_wins_and_a_metric_without_datapoints_lowers_nothing(lifecycle):
    good = put_datapoint("Cpu", 20)
    moderate = put_datapoint("Memory", 70)
    silent = {**good, "MetricName": "NeverReported"}
    below = {"3": 50, "4": 10}
    env = lifecycle({
        "two": {"max_simultaneous_invocations": LIMIT, "health_metrics": {
            "cpu": {"details": good, "feelings": below, "feeling_comparison_operator": "<="},  # 3
            "mem": {"details": moderate, "feelings": {"2": 80, "3": 50}, "feeling_comparison_operator": "<="},  # 2
        }},
        "quiet": {"max_simultaneous_invocations": LIMIT, "health_metrics": {
            "none": {"details": silent, "feelings": {"4": 0}, "feeling_comparison_operator": "<"}}},
    }, workers={"two": SilentWorker, "quiet": SilentWorker})
    tm = env.task_manager()
    for name in ("two", "quiet"):
        tm.create_tasks(tm.get_labourer(name), [{"n": i} for i in range(10)])
    orchestrator = env.orchestrator()

    health = {lab.id: lab.get_attr("health") for lab in orchestrator.task_client.register_labourers()}
    assert health == {"two": 2, "quiet": 4}
    assert orchestrator({}) == {"two": LIMIT // 2, "quiet": LIMIT}
    env.wait()


@pytest.mark.parametrize("key", [4, "4"], ids=["int_key", "string_key"])
def test_invocation_number_coefficient_accepts_int_and_string_keys(lifecycle, key):
    env = lifecycle({"w": {"max_simultaneous_invocations": LIMIT}}, workers={"w": SilentWorker})
    queue_with_running_tasks(env, "w", running=1)

    result = env.orchestrator(invocation_number_coefficient={key: 0.5})({})

    assert result == {"w": LIMIT // 2 - 1}
    assert invoked_count() == LIMIT // 2
    env.wait()


def test_coefficient_of_custom_config_wins_over_the_json_config_row(lifecycle):
    """JSON rows give string keys; custom_config (the last layer) must still win with an int key."""
    boto3.client("dynamodb").put_item(TableName="config", Item={
        "env": {"S": "production"}, "config_name": {"S": constants.ESSENTIAL_CONFIG_NAME},
        "config_value": {"S": json.dumps({"invocation_number_coefficient": {"4": 0.25}})},
    })
    env = lifecycle({"w": {"max_simultaneous_invocations": LIMIT}}, workers={"w": SilentWorker})
    queue_with_running_tasks(env, "w", running=0)

    assert env.orchestrator()({}) == {"w": LIMIT // 4}  # the shared row applies
    env.clock.advance(EXPIRY + 1)  # those two expire: nothing runs any more
    assert env.orchestrator(invocation_number_coefficient={4: 0.75})({}) == {"w": LIMIT * 3 // 4}
    env.wait()
