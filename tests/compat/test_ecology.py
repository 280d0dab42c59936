"""COMPAT.md "EcologyManager": health configs of sosw 0.7.47, its caches and its durations, with the MagicMock clients
users' tests assign."""

import datetime
from unittest.mock import MagicMock, patch

import pytest

from sosw.components.helpers import make_hash
from sosw.labourer import Labourer
from sosw.managers.ecology import EcologyManager

DETAILS = {"Namespace": "AWS/RDS", "MetricName": "CPUUtilization", "Statistics": ["Average"],
           "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "my-db"}]}


@pytest.fixture(autouse=True)
def no_config_rows():
    with patch("sosw.app.get_config", return_value={}) as get_config:
        yield get_config


@pytest.fixture
def manager():
    with patch("boto3.client"):
        manager = EcologyManager(custom_config={})
    manager.cloudwatch_client = MagicMock()
    return manager


def metric(operator: str, feelings: dict, details: dict = None) -> dict:
    return {"details": details or DETAILS, "feelings": feelings, "feeling_comparison_operator": operator}


def datapoints(statistic: str, *values: float) -> dict:
    now = datetime.datetime.now(datetime.timezone.utc)
    return {"Datapoints": [{"Timestamp": now - datetime.timedelta(minutes=i), statistic: value, "Unit": "Percent"}
                           for i, value in enumerate(values)]}


@pytest.mark.parametrize("operator, feelings, value, health", [
    ("__le__", {3: 50, 4: 25}, 25, 4),
    ("__le__", {3: 50, 4: 25}, 40, 3),
    ("__lt__", {3: 50, 4: 25}, 25, 3),
    ("__ge__", {2: 10, 3: 50}, 60, 3),
    ("__gt__", {2: 10, 3: 50}, 50, 2),
    ("__eq__", {1: 0, 4: 1}, 0, 1),
    ("__le__", {3: 50, 4: 25}, 51, 0),
])
def test_feeling_comparison_operator_accepts_the_original_operator_names(manager, operator, feelings, value, health):
    assert manager.get_health(value, metric(operator, feelings)) == health


def test_feelings_out_of_order_raise_value_error(manager):
    with pytest.raises(ValueError):
        manager.get_health(10, metric("<=", {3: 25, 4: 50}))  # High needs the lower CPU
    with pytest.raises(ValueError):
        manager.get_health(10, metric(">=", {3: 90, 4: 50}))


def test_unknown_operator_is_an_attribute_error_as_in_the_original(manager):
    with pytest.raises(AttributeError):
        manager.get_health(10, metric("__ne__", {3: 50}))


@pytest.mark.parametrize("statistic, values, expected", [
    ("Average", (10, 20, 60), 30),
    ("Maximum", (10, 20, 60), 60),
    ("Minimum", (10, 20, 60), 10),
])
def test_fetch_metric_stats_returns_one_value_aggregated_over_the_window(manager, statistic, values, expected):
    manager.cloudwatch_client.get_metric_statistics.return_value = datapoints(statistic, *values)

    assert manager.fetch_metric_stats(metric={**DETAILS, "Statistics": [statistic]}) == expected

    _, params = manager.cloudwatch_client.get_metric_statistics.call_args
    assert params["EndTime"] - params["StartTime"] == datetime.timedelta(seconds=300)
    assert "MetricAggregationTimeSlice" not in params


def test_fetch_metric_stats_is_cached_per_metric_in_health_metrics(manager):
    manager.cloudwatch_client.get_metric_statistics.return_value = datapoints("Average", 40)
    manager.register_task_manager(MagicMock())
    shared = {"DbCpu": metric("<=", {3: 50, 4: 25})}

    assert manager.get_labourer_status(Labourer(id="first", health_metrics=shared)) == 3
    assert manager.get_labourer_status(Labourer(id="second", health_metrics=shared)) == 3

    manager.cloudwatch_client.get_metric_statistics.assert_called_once()
    assert manager.health_metrics == {make_hash(DETAILS): 40}


def test_get_max_labourer_duration_is_the_lambda_timeout(manager):
    manager.register_task_manager(MagicMock())
    manager.task_client.lambda_client.get_function_configuration.return_value = {"Timeout": 123}
    labourer = Labourer(id="some_function", arn="arn:aws:lambda:us-west-2:000000000000:function:some_function")

    assert manager.get_max_labourer_duration(labourer) == 123

    manager.task_client.lambda_client.get_function_configuration.assert_called_once_with(FunctionName=labourer.arn)


def test_running_tasks_is_the_public_cache_and_register_task_manager_resets_the_caches(manager):
    task_manager = MagicMock()
    task_manager.get_count_of_running_tasks_for_labourer.return_value = 2
    manager.register_task_manager(task_manager)
    labourer = Labourer(id="some_function")

    manager.running_tasks[labourer.id] = 5  # users' tests fill the cache directly
    manager.add_running_tasks_for_labourer(labourer, 3)
    assert manager.count_running_tasks_for_labourer(labourer) == 8
    task_manager.get_count_of_running_tasks_for_labourer.assert_not_called()

    manager.health_metrics["anything"] = 1
    manager.register_task_manager(task_manager)
    assert manager.task_client is task_manager
    assert manager.running_tasks == {} and manager.health_metrics == {}
    assert manager.count_running_tasks_for_labourer(labourer) == 2


def test_count_running_tasks_for_labourer_without_a_task_manager_raises_runtime_error(manager):
    with pytest.raises(RuntimeError):
        manager.count_running_tasks_for_labourer(Labourer(id="some_function"))


def test_health_metrics_attribute():
    assert hasattr(EcologyManager, "health_metrics")
    with patch("boto3.client"):
        assert EcologyManager().health_metrics == {}
