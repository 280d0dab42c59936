"""EcologyManager without any network: health from metric values, with stub CloudWatch and task clients."""


import pytest

from sosw.exceptions import ConfigError
from sosw.labourer import Labourer
from sosw.managers.ecology import ECO_STATUSES, EcologyManager


@pytest.fixture
def ecology():
    # Health from values needs no CloudWatch: a client that answers nothing makes any call an error.
    return EcologyManager(cloudwatch_client=object())


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


@pytest.mark.parametrize("operator", ["!=", "=<", "__ne__", "", None])
def test_unsupported_operator(ecology, operator):
    with pytest.raises(ConfigError) as raised:
        ecology.get_health(1, metric(operator, {3: 50}))
    assert raised.value.config_name == "feeling_comparison_operator"


@pytest.mark.parametrize("feelings", [{"high": 50}, {3: "lots"}, {3: None}])
def test_malformed_feelings(ecology, feelings):
    with pytest.raises(ConfigError) as raised:
        ecology.get_health(1, metric("<=", feelings))
    assert raised.value.config_name == "feelings"


class StubLambda:
    def get_function_configuration(self, FunctionName):  # noqa: N803 - boto3's parameter name
        return {"FunctionName": FunctionName, "Timeout": 30}


class StubTaskClient:
    def __init__(self, running):
        self.running = running
        self.asked = 0
        self.lambda_client = StubLambda()

    def get_count_of_running_tasks_for_labourer(self, labourer):
        self.asked += 1
        return self.running[labourer.id]

    def get_average_labourer_duration(self, labourer):
        return 12


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


def test_durations_come_from_the_task_client_and_the_lambda_timeout(ecology):
    ecology.register_task_manager(StubTaskClient({}))
    assert ecology.get_labourer_average_duration(Labourer(id="a")) == 12
    assert ecology.get_max_labourer_duration(Labourer(id="a")) == 30
