"""
Ecology: how well a Labourer may work right now. Its health is the worst status over its CloudWatch
``health_metrics``; the Orchestrator scales its invocations by that health.

.. code-block:: python

    labourer = Labourer(id='w', health_metrics={
        'DbCpu': {
            'details': {'Namespace': 'AWS/RDS', 'MetricName': 'CPUUtilization',
                        'Dimensions': [{'Name': 'DBInstanceIdentifier', 'Value': 'db'}]},
            'feelings': {3: 50, 4: 25},             # CPU <= 25 -> High (4), <= 50 -> Good (3), else Bad (0)
            'feeling_comparison_operator': '<=',
        },
    })
    EcologyManager().get_labourer_status(labourer)
"""

import datetime
import logging
import operator
from collections import defaultdict
from typing import Any, Callable, Dict, List, Optional, Union

from sosw.app import Processor
from sosw.exceptions import ConfigError
from sosw.labourer import Labourer

logger = logging.getLogger(__name__)

__all__ = ["EcologyManager", "ECO_STATUSES"]

#: Health statuses, worst first.
ECO_STATUSES = (
    (0, "Bad"),
    (1, "Poor"),
    (2, "Moderate"),
    (3, "Good"),
    (4, "High"),
)

OPERATORS: Dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


class EcologyManager(Processor):
    """Health of Labourers and counts of their running tasks, kept for one run of an Essential."""

    DEFAULT_CONFIG = {
        "init_clients": ["cloudwatch"],
        "default_metric_values": {
            "MetricAggregationTimeSlice": 300,
            "Period": 60,
            "Statistics": ["Average"],
        },
    }

    cloudwatch_client: Any = None
    task_client: Any = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.running_tasks: Dict[str, int] = defaultdict(int)
        self._counted: set = set()
        self._health: Dict[str, int] = {}

    @property
    def eco_statuses(self) -> List[int]:
        return [status for status, _ in ECO_STATUSES]

    def register_task_manager(self, task_manager: Any) -> None:
        """Receive the TaskManager that answers task queries (instead of creating another)."""
        self.task_client = task_manager

    def reset_cache(self) -> None:
        """Forget counts and health of the previous run: a warm container serves many runs."""
        self.running_tasks = defaultdict(int)
        self._counted = set()
        self._health = {}

    # Health ----------------------------------------------------------------------------------------------------

    def get_labourer_status(self, labourer: Labourer) -> int:
        """The worst (lowest) health over the Labourer's health metrics; 4 (High) when it has none. A metric with
        no datapoints says nothing and lowers nothing. Computed once per run."""
        if labourer.id in self._health:
            return self._health[labourer.id]
        health = max(self.eco_statuses)
        for name, metric in (labourer.health_metrics or {}).items():
            if not isinstance(metric, dict) or "details" not in metric:
                raise ConfigError("a health metric needs 'details', 'feelings' and 'feeling_comparison_operator'",
                                  config_name=f"labourers.{labourer.id}.health_metrics.{name}")
            datapoints = self.fetch_metric_stats(metric["details"])
            if not datapoints:
                logger.info("health metric %s of %s has no datapoints; ignored", name, labourer.id)
                continue
            latest = max(datapoints, key=lambda d: d["Timestamp"])
            statistic = next(k for k in ("Average", "Maximum", "Minimum", "Sum", "SampleCount") if k in latest)
            health = min(health, self.get_health(latest[statistic], metric))
        self._health[labourer.id] = health
        return health

    def get_health(self, value: Union[int, float], metric: Dict[str, Any]) -> int:
        """The highest status whose threshold ``value`` satisfies with the metric's comparison operator, else 0.

        Status keys may be ints or strings (as JSON configs give them).

        :param value: Current value of the metric.
        :param metric: ``{'feelings': {status: threshold}, 'feeling_comparison_operator': '<='}``.
        """
        op_name = metric.get("feeling_comparison_operator", "<=")
        op = OPERATORS.get(op_name)
        if op is None:
            raise ConfigError(f"unsupported {op_name!r}; use one of {sorted(OPERATORS)}",
                              config_name="feeling_comparison_operator")
        try:
            feelings = {int(status): float(threshold) for status, threshold in metric.get("feelings", {}).items()}
        except (TypeError, ValueError):
            raise ConfigError(f"expected {{status: number}}, got {metric.get('feelings')!r}",
                              config_name="feelings") from None
        for status in sorted(feelings, reverse=True):
            if op(value, feelings[status]):
                return status
        return 0

    def fetch_metric_stats(self, metric: Optional[Dict[str, Any]] = None, **kwargs: Any) -> List[Dict]:
        """Datapoints of CloudWatch GetMetricStatistics for ``metric`` (its arguments). ``MetricAggregationTimeSlice``
        (seconds) sets StartTime/EndTime; missing fields come from ``config['default_metric_values']``."""
        params = {**self.config.get("default_metric_values", {}), **(metric or {}), **kwargs}
        if "Name" in params and "MetricName" not in params:  # the original's examples say Name
            params["MetricName"] = params.pop("Name")
        window = int(params.pop("MetricAggregationTimeSlice", 300))
        now = datetime.datetime.now(datetime.timezone.utc)
        params.setdefault("EndTime", now)
        params.setdefault("StartTime", now - datetime.timedelta(seconds=window))
        return self.cloudwatch_client.get_metric_statistics(**params).get("Datapoints", [])

    # Running tasks ---------------------------------------------------------------------------------------------

    def count_running_tasks_for_labourer(self, labourer: Labourer) -> int:
        """Tasks of the Labourer assumed running; asked of the TaskManager once per run, then kept up to date by
        :meth:`add_running_tasks_for_labourer`."""
        if labourer.id not in self._counted:
            self.running_tasks[labourer.id] = self.task_client.get_count_of_running_tasks_for_labourer(labourer)
            self._counted.add(labourer.id)
        return self.running_tasks[labourer.id]

    def add_running_tasks_for_labourer(self, labourer: Labourer, count: int = 1) -> None:
        """Add ``count`` to the running tasks of the Labourer (after invoking them)."""
        self.running_tasks[labourer.id] = self.count_running_tasks_for_labourer(labourer) + count

    # Durations -------------------------------------------------------------------------------------------------

    def get_labourer_average_duration(self, labourer: Labourer) -> int:
        """Average seconds of the Labourer's recent completed tasks (costs one query)."""
        return self.task_client.get_average_labourer_duration(labourer)

    def get_max_labourer_duration(self, labourer: Labourer) -> int:
        """Longest seconds among the Labourer's recent completed tasks (costs one query)."""
        return self.task_client.get_max_labourer_duration(labourer)
