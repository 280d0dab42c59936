"""A Labourer's health from a CloudWatch metric: the worst status over its health_metrics."""

import datetime

import boto3

from sosw.labourer import Labourer
from sosw.managers.ecology import EcologyManager

# Some load on the database the Worker writes to.
boto3.client("cloudwatch").put_metric_data(Namespace="AWS/RDS", MetricData=[{
    "MetricName": "CPUUtilization", "Value": 42.0, "Unit": "Percent",
    "Timestamp": datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=2),
    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "my-db"}],
}])

labourer = Labourer(id="my_worker", max_simultaneous_invocations=10, health_metrics={
    "DbCpu": {
        "details": {  # GetMetricStatistics arguments; StartTime/EndTime from MetricAggregationTimeSlice (300 s)
            "Namespace": "AWS/RDS", "MetricName": "CPUUtilization", "Statistics": ["Average"], "Period": 60,
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "my-db"}],
        },
        "feelings": {3: 50, 4: 25},  # <= 25 High, <= 50 Good, above: Bad
        "feeling_comparison_operator": "<=",
    },
})

health = EcologyManager().get_labourer_status(labourer)
assert health == 3  # 42 % CPU: Good, so the Orchestrator invokes floor(10 x 0.75) - running
print(f"health of {labourer.id}: {health}")

assert EcologyManager().get_labourer_status(Labourer(id="carefree_worker")) == 4  # no metrics: High
