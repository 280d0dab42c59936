"""EcologyManager without any network: health from metric values, with stub CloudWatch and task clients."""

import datetime

import pytest

from sosw.exceptions import ConfigError
from sosw.labourer import Labourer
from sosw.managers.ecology import ECO_STATUSES, EcologyManager


@pytest.fixture
def ecology():
    return EcologyManager(custom_config={"init_clients": []})


def metric(operator, feelings):
    return {"details": {"Namespace": "N", "MetricName": "M"}, "feelings": feelings,
            "feeling_comparison_operator": operator}


def test_statuses():
    assert [status for status, _ in ECO_STATUSES] == [0, 1, 2, 3, 4]
    assert dict(ECO_STATUSES)[4] == "High"


@pytest.mark.parametrize("operator, feelings, value, health", [
    ("<=", {3: 50, 4: 25}, 25, 4),
    ("<=", {3: 50, 4: 25}, 26, 3),
    ("<=", {3: 50, 4: 25}, 50, 3),
    ("<=", {3: 50, 4: 25}, 51, 0),
    ("<", {3: 50, 4: 25}, 25, 3),
    ("<", {3: 50, 4: 25}, 24.9, 4),
    ("<", {3: 50, 4: 25}, 50, 0),
    (">=", {2: 10, 3: 50, 4: 90}, 90, 4),
    (">=", {2: 10, 3: 50, 4: 90}, 89, 3),
    (">=", {2: 10, 3: 50, 4: 90}, 10, 2),
    (">=", {2: 10, 3: 50, 4: 90}, 9, 0),
    (">", {2: 10, 3: 50}, 50, 2),
    (">", {2: 10, 3: 50}, 50.1, 3),
    (">", {2: 10, 3: 50}, 10, 0),
    ("==", {1: 0, 4: 1}, 1, 4),
    ("==", {1: 0, 4: 1}, 0, 1),
    ("==", {1: 0, 4: 1}, 0.5, 0),
])
@pytest.mark.parametrize("keys", [int, str], ids=["int_keys", "string_keys"])
def test_get_health(ecology, operator, feelings, value, health, keys):
    assert ecology.get_health(value, metric(operator, {keys(k): v for k, v in feelings.items()})) == health


def test_string_thresholds_and_mixed_keys(ecology):
    assert ecology.get_health(40, metric("<=", {"3": "50", 4: 25})) == 3


def test_default_operator_is_less_or_equal(ecology):
    assert ecology.get_health(50, {"feelings": {"3": 50}}) == 3


@pytest.mark.parametrize("operator", ["!=", "=<", "lt", "", None])
def test_unsupported_operator(ecology, operator):
    with pytest.raises(ConfigError) as raised:
        ecology.get_health(1, metric(operator, {3: 50}))
    assert raised.value.config_name == "feeling_comparison_operator"


@pytest.mark.parametrize("feelings", [{"high": 50}, {3: "lots"}, {3: None}])
def test_malformed_feelings(ecology, feelings):
    with pytest.raises(ConfigError) as raised:
        ecology.get_health(1, metric("<=", feelings))
    assert raised.value.config_name == "feelings"


class StubCloudWatch:
    """Answers GetMetricStatistics with the datapoints configured per metric name; records the calls."""

    def __init__(self, values):
        self.values = values
        self.calls = []

    def get_metric_statistics(self, **params):
        self.calls.append(params)
        now = datetime.datetime.now(datetime.timezone.utc)
        points = self.values.get(params["MetricName"], [])
        return {"Datapoints": [{"Timestamp": now - datetime.timedelta(minutes=len(points) - i), "Average": v}
                               for i, v in enumerate(points)]}


def labourer_with(metrics):
    return Labourer(id="w", health_metrics={
        name: {"details": {"Namespace": "N", "MetricName": name}, "feelings": feelings,
               "feeling_comparison_operator": op} for name, (op, feelings) in metrics.items()})


def test_labourer_status_is_the_worst_metric_and_uses_the_latest_datapoint(ecology):
    ecology.cloudwatch_client = StubCloudWatch({"cpu": [90, 20], "mem": [70]})  # cpu now 20 (latest), mem 70
    labourer = labourer_with({"cpu": ("<=", {"3": 50, "4": 25}), "mem": ("<=", {"2": 80, "3": 50})})
    assert ecology.get_labourer_status(labourer) == 2


def test_metric_without_datapoints_lowers_nothing(ecology):
    ecology.cloudwatch_client = StubCloudWatch({"cpu": [40]})
    assert ecology.get_labourer_status(labourer_with({"silent": (">", {"4": 1000})})) == 4
    ecology.reset_cache()
    assert ecology.get_labourer_status(labourer_with({"silent": (">", {"4": 1000}), "cpu": ("<=", {"3": 50})})) == 3


def test_labourer_without_metrics_is_high(ecology):
    ecology.cloudwatch_client = StubCloudWatch({})
    assert ecology.get_labourer_status(Labourer(id="w")) == 4
    assert ecology.cloudwatch_client.calls == []


def test_status_is_computed_once_per_run(ecology):
    stub = ecology.cloudwatch_client = StubCloudWatch({"cpu": [10]})
    labourer = labourer_with({"cpu": ("<=", {"4": 25})})
    assert ecology.get_labourer_status(labourer) == 4
    stub.values["cpu"] = [99]
    assert ecology.get_labourer_status(labourer) == 4
    assert len(stub.calls) == 1
    ecology.reset_cache()
    assert ecology.get_labourer_status(labourer) == 0


def test_metric_without_details_is_a_config_error(ecology):
    ecology.cloudwatch_client = StubCloudWatch({})
    with pytest.raises(ConfigError, match="details"):
        ecology.get_labourer_status(Labourer(id="w", health_metrics={"bad": {"feelings": {4: 1}}}))


def test_fetch_metric_stats_fills_defaults_and_the_time_window(ecology):
    stub = ecology.cloudwatch_client = StubCloudWatch({"cpu": [1]})
    assert ecology.fetch_metric_stats({"Namespace": "N", "Name": "cpu", "MetricAggregationTimeSlice": 600})
    [params] = stub.calls
    assert params["MetricName"] == "cpu" and "Name" not in params
    assert params["Period"] == 60 and params["Statistics"] == ["Average"]
    assert "MetricAggregationTimeSlice" not in params
    assert params["EndTime"] - params["StartTime"] == datetime.timedelta(seconds=600)


class StubTaskClient:
    def __init__(self, running):
        self.running = running
        self.asked = 0

    def get_count_of_running_tasks_for_labourer(self, labourer):
        self.asked += 1
        return self.running[labourer.id]

    def get_average_labourer_duration(self, labourer):
        return 12

    def get_max_labourer_duration(self, labourer):
        return 30


def test_running_tasks_are_counted_once_per_run_then_kept_up_to_date(ecology):
    stub = StubTaskClient({"a": 3, "b": 0})
    ecology.register_task_manager(stub)
    a, b = Labourer(id="a"), Labourer(id="b")
    assert ecology.count_running_tasks_for_labourer(a) == 3
    ecology.add_running_tasks_for_labourer(a, 2)
    ecology.add_running_tasks_for_labourer(b)
    assert ecology.count_running_tasks_for_labourer(a) == 5
    assert ecology.count_running_tasks_for_labourer(b) == 1
    assert stub.asked == 2
    ecology.reset_cache()
    assert ecology.count_running_tasks_for_labourer(a) == 3
    assert stub.asked == 3


def test_durations_come_from_the_task_client(ecology):
    ecology.register_task_manager(StubTaskClient({}))
    assert ecology.get_labourer_average_duration(Labourer(id="a")) == 12
    assert ecology.get_max_labourer_duration(Labourer(id="a")) == 30
