"""SiblingsManager as users' tests of sosw 0.7.47 drive it: built under ``patch('boto3.client')``, a MagicMock as
``cloudwatch_client``."""

from unittest.mock import MagicMock, patch

import pytest

from sosw.components.siblings import SiblingsManager


@pytest.fixture
def siblings(monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    with patch("sosw.app.get_config", return_value={}), patch("boto3.client"):
        manager = SiblingsManager()
    manager.cloudwatch_client = MagicMock()
    return manager


def metric_responses(average_duration_ms: float, invocations: float):
    """What CloudWatch answers for one aggregated period: Duration first, then Invocations."""
    return [
        {"Datapoints": [{"Average": average_duration_ms, "Unit": "Milliseconds"}]},
        {"Datapoints": [{"Sum": invocations, "Unit": "Count"}]},
    ]


def test_get_approximate_concurrent_executions_works_without_function_name_default_test_function(siblings):
    siblings.cloudwatch_client.get_metric_statistics.side_effect = metric_responses(1000, 600)

    assert siblings.get_approximate_concurrent_executions() == 2  # 600 × 1 s over 300 s

    for each in siblings.cloudwatch_client.get_metric_statistics.call_args_list:
        assert each.kwargs["Dimensions"] == [{"Name": "FunctionName", "Value": "test_function"}]


def test_get_approximate_concurrent_executions_reads_one_aggregated_period(siblings):
    siblings.cloudwatch_client.get_metric_statistics.side_effect = metric_responses(30_000, 25)

    # 25 invocations of 30 s in a 10-minute window: 1.25 at a time, rounded up.
    assert siblings.get_approximate_concurrent_executions(minutes_back=10, name="my_worker") == 2

    calls = siblings.cloudwatch_client.get_metric_statistics.call_args_list
    assert [(c.kwargs["MetricName"], c.kwargs["Statistics"]) for c in calls] == [
        ("Duration", ["Average"]), ("Invocations", ["Sum"]),
    ]
    for each in calls:
        assert each.kwargs["Namespace"] == "AWS/Lambda"
        assert each.kwargs["Period"] == 600
        # The window is exactly one period: CloudWatch answers with one aggregated datapoint.
        assert (each.kwargs["EndTime"] - each.kwargs["StartTime"]).total_seconds() == each.kwargs["Period"]


def test_get_approximate_concurrent_executions_without_duration_is_zero_and_reads_duration_only(siblings):
    siblings.cloudwatch_client.get_metric_statistics.return_value = {"Datapoints": []}

    assert siblings.get_approximate_concurrent_executions(name="idle") == 0
    assert siblings.cloudwatch_client.get_metric_statistics.call_count == 1
