"""EcologyManager's health from CloudWatch datapoints in moto (put with put_metric_data)."""

import datetime

import boto3
import pytest

from sosw.exceptions import ConfigError
from sosw.labourer import Labourer
from sosw.managers.ecology import EcologyManager

NAMESPACE = "Sosw/Test"


@pytest.fixture
def ecology():
    manager = EcologyManager(custom_config={})
    calls = []
    # botocore's own hook: what the manager asks of CloudWatch, as the parameters it passes.
    manager.cloudwatch_client.meta.events.register(
        "before-parameter-build.cloudwatch.GetMetricStatistics", lambda params, **kwargs: calls.append(dict(params)))
    manager.calls = calls
    return manager


def put(name, *values):
    """Datapoints of ``name``, a minute apart, the last one a minute ago (moto ignores the current second)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    boto3.client("cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=[
        {"MetricName": name, "Value": value, "Timestamp": now - datetime.timedelta(minutes=len(values) - i)}
        for i, value in enumerate(values)])


def labourer_with(metrics):
    return Labourer(id="w", health_metrics={
        name: {"details": {"Namespace": NAMESPACE, "MetricName": name}, "feelings": feelings,
               "feeling_comparison_operator": op} for name, (op, feelings) in metrics.items()})


def test_labourer_status_is_the_worst_metric_over_the_window(ecology):
    put("cpu", 40, 20)  # the window's Average is 30, though the latest datapoint is 20
    put("mem", 70)
    assert ecology.get_labourer_status(labourer_with({"cpu": ("<=", {"3": 50, "4": 25})})) == 3
    labourer = labourer_with({"cpu": ("<=", {"3": 50, "4": 25}), "mem": ("<=", {"2": 80, "3": 50})})
    assert ecology.get_labourer_status(labourer) == 2


def test_metric_without_datapoints_lowers_nothing(ecology):
    put("cpu", 40)
    assert ecology.get_labourer_status(labourer_with({"silent": (">", {"4": 1000})})) == 4
    ecology.reset_cache()
    assert ecology.get_labourer_status(labourer_with({"silent": (">", {"4": 1000}), "cpu": ("<=", {"3": 50})})) == 3


def test_labourer_without_metrics_is_high_and_asks_nothing(ecology):
    assert ecology.get_labourer_status(Labourer(id="w")) == 4
    assert ecology.calls == []


def test_status_is_computed_once_per_run(ecology):
    put("cpu", 10)
    labourer = labourer_with({"cpu": ("<=", {"4": 25})})
    assert ecology.get_labourer_status(labourer) == 4
    put("cpu", 99, 99)
    assert ecology.get_labourer_status(labourer) == 4
    assert len(ecology.calls) == 1
    ecology.reset_cache()
    assert ecology.get_labourer_status(labourer) == 0


def test_metric_without_details_is_a_config_error(ecology):
    with pytest.raises(ConfigError, match="details"):
        ecology.get_labourer_status(Labourer(id="w", health_metrics={"bad": {"feelings": {4: 1}}}))


def test_fetch_metric_stats_fills_defaults_and_the_time_window(ecology):
    put("cpu", 1)
    assert ecology.fetch_metric_stats({"Namespace": NAMESPACE, "Name": "cpu", "MetricAggregationTimeSlice": 600})
    [params] = ecology.calls
    assert params["MetricName"] == "cpu" and "Name" not in params
    assert params["Period"] == 60 and params["Statistics"] == ["Average"]
    assert "MetricAggregationTimeSlice" not in params
    assert params["EndTime"] - params["StartTime"] == datetime.timedelta(seconds=600)
