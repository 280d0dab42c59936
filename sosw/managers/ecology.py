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

``feeling_comparison_operator`` is a symbol (``'<='``, ``'<'``, ``'>='``, ``'>'``, ``'=='``) or the name of the
``operator`` function, as configs of sosw 0.7.47 give it (``'__le__'``, ``'le'``, ...).
"""

import datetime
import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Union

from botocore.exceptions import BotoCoreError, ClientError

from sosw.components._boto import make_client
from sosw.components.base import Component
from sosw.components.helpers import make_hash
from sosw.exceptions import ConfigError
from sosw.labourer import Labourer
from sosw.managers._settings import (
    AGGREGATORS,
    OPERATORS,  # noqa: F401 - re-exported: sosw.managers.ecology.OPERATORS
    EcologySettings,
    HealthRule,
    check_statistics,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_lambda import LambdaClient

logger = logging.getLogger(__name__)

__all__ = ["EcologyManager", "ECO_STATUSES", "async_retry_attempts"]

#: Health statuses, worst first.
ECO_STATUSES = (
    (0, "Bad"),
    (1, "Poor"),
    (2, "Moderate"),
    (3, "Good"),
    (4, "High"),
)


def async_retry_attempts(lambda_client: Any, function_name: str) -> Optional[int]:
    """``MaximumRetryAttempts`` of the function's EventInvokeConfig: how many times Lambda itself retries a failed
    asynchronous invocation (2 when there is none, Lambda's default). None when Lambda cannot tell (e.g. the caller
    may not read it).

    .. code-block:: python

        async_retry_attempts(boto3.client('lambda'), 'my_worker')  # 0 with the Worker templates
    """
    try:
        value = lambda_client.get_function_event_invoke_config(FunctionName=function_name).get(
            "MaximumRetryAttempts", 2)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return 2  # no EventInvokeConfig: Lambda's default
        logger.debug("EventInvokeConfig of %s unknown (%s)", function_name, err)
        return None
    except (BotoCoreError, AttributeError, TypeError) as err:
        logger.debug("EventInvokeConfig of %s unknown (%s)", function_name, err)
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class EcologyManager(Component):
    """Health of Labourers and counts of their running tasks, kept for one run of an Essential. The TaskManager
    creates it and hands itself over with :meth:`register_task_manager` at each run, which also resets the caches.

    :param custom_config: Over ``DEFAULT_CONFIG``: ``default_metric_values``; checked here, once (``settings``).
    :param cloudwatch_client: boto3 CloudWatch client that reads health metrics; a new one if None.
    :param lambda_client: boto3 Lambda client that reads functions' timeouts; if None, the TaskManager's.
    :param task_client: The TaskManager that answers task queries (see :meth:`register_task_manager`).
    :param test: Test mode.

    .. code-block:: python

        ecology = EcologyManager(cloudwatch_client=my_cloudwatch, task_client=task_manager)
        ecology.get_labourer_status(labourer)  # 0 (Bad) .. 4 (High)
        ecology.count_running_tasks_for_labourer(labourer)  # asked of the TaskManager once per run
    """

    DEFAULT_CONFIG: Dict[str, Any] = {
        "default_metric_values": {
            "MetricAggregationTimeSlice": 300,
            "Period": 60,
            "Statistics": ["Average"],
        },
    }

    cloudwatch_client: Any = None
    lambda_client: Any = None
    task_client: Any = None
    #: Running tasks per Labourer id, counted once per run then kept up to date.
    running_tasks: Dict[Any, int] = defaultdict(int)
    #: Values of the health metrics of this run, by ``make_hash(details)``.
    health_metrics: Dict[int, Optional[float]] = {}

    def __init__(self, custom_config: Optional[Mapping[str, Any]] = None, *,
                 cloudwatch_client: Optional["CloudWatchClient"] = None,
                 lambda_client: Optional["LambdaClient"] = None, task_client: Any = None,
                 test: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init__(custom_config, test=test)
        #: The config, checked once.
        self.settings = EcologySettings.from_config(self.config)
        self.cloudwatch_client = cloudwatch_client if cloudwatch_client is not None else make_client("cloudwatch")
        self.lambda_client = lambda_client
        self.running_tasks = defaultdict(int)
        self.health_metrics = {}
        self.task_client = task_client
        # A function's timeout is configuration, not state of a run: kept for the life of the container.
        self._timeouts: Dict[str, Optional[int]] = {}
        self._async_retries: Dict[str, Optional[int]] = {}

    def __call__(self, event: Any = None) -> None:
        """Kept from sosw 0.7.47, where the EcologyManager was a Processor: counts the call in
        ``stats['processor_calls']``, and does nothing else.

        :param event: Ignored.
        """
        self.stats["processor_calls"] += 1

    @property
    def eco_statuses(self) -> List[int]:
        """The health statuses, worst first: ``[0, 1, 2, 3, 4]``."""
        return [status for status, _ in ECO_STATUSES]

    def register_task_manager(self, task_manager: Any) -> None:
        """Receive the TaskManager that answers task queries (instead of creating another), and forget the counts
        and metric values of the previous run: a warm container serves many runs.

        :param task_manager: The TaskManager of the Essential.
        """
        self.task_client = task_manager
        self.reset_cache()

    def reset_cache(self) -> None:
        """Forget the running tasks and metric values of the previous run."""
        self.running_tasks = defaultdict(int)
        self.health_metrics = {}

    def _lambda(self) -> Any:
        """The Lambda client: our own if we were given one, else the TaskManager's (which may be replaced)."""
        return self.lambda_client if self.lambda_client is not None else self._require_task_client().lambda_client

    def _require_task_client(self) -> Any:
        if not self.task_client:
            raise RuntimeError("EcologyManager has no TaskManager: call register_task_manager(task_manager) first")
        return self.task_client

    # Health ----------------------------------------------------------------------------------------------------

    def get_labourer_status(self, labourer: Labourer) -> int:
        """The worst (lowest) health over the Labourer's health metrics; 4 (High) when it has none. A metric with
        no datapoints says nothing and lowers nothing. Each metric is read once per run.

        :param labourer: The Labourer, with its ``health_metrics``.
        :raises ConfigError: A metric without ``details``.
        """
        health = max(self.eco_statuses)
        for name, metric in (getattr(labourer, "health_metrics", None) or {}).items():
            if not isinstance(metric, dict) or "details" not in metric:
                raise ConfigError("a health metric needs 'details', 'feelings' and 'feeling_comparison_operator'",
                                  config_name=f"labourers.{labourer.id}.health_metrics.{name}")
            key = make_hash(metric["details"])
            if key not in self.health_metrics:
                self.health_metrics[key] = self.fetch_metric_stats(metric["details"])
            value = self.health_metrics[key]
            if value is None:
                logger.info("health metric %s of %s has no datapoints; ignored", name, labourer.id)
                continue
            health = min(health, self.get_health(value, metric))
        return health

    def get_health(self, value: Union[int, float], metric: Dict[str, Any]) -> int:
        """The highest status whose threshold ``value`` satisfies with the metric's comparison operator, else 0.

        Status keys may be ints or strings (as JSON configs give them).

        :param value: Current value of the metric.
        :param metric: ``{'feelings': {status: threshold}, 'feeling_comparison_operator': '<='}``.
        :raises ConfigError: (a ``ValueError``) the thresholds are not in the order of the statuses, e.g. with
            ``'<='`` a higher status needs a lower threshold.
        :raises UnsupportedSetting: (an ``AttributeError``) an unknown operator.
        """
        return HealthRule.from_metric(metric).health(value)

    def fetch_metric_stats(self, metric: Dict[str, Any]) -> Optional[float]:
        """The value of a CloudWatch metric over its window: the datapoints of GetMetricStatistics aggregated by
        the metric's statistic (mean of ``Average``, max of ``Maximum``, ...); ``None`` without datapoints.

        :param metric: GetMetricStatistics arguments; ``MetricAggregationTimeSlice`` (seconds) sets
            StartTime/EndTime; missing fields come from ``config['default_metric_values']``.
        :raises UnsupportedSetting: (an ``AssertionError``) more than one statistic is asked.
        """
        params = {**self.settings.default_metric_values, **metric}
        if "Name" in params and "MetricName" not in params:  # the original's examples say Name
            params["MetricName"] = params.pop("Name")
        statistic = check_statistics(params)
        window = int(params.pop("MetricAggregationTimeSlice", 300))
        now = datetime.datetime.now(datetime.timezone.utc)
        params.setdefault("EndTime", now)
        params.setdefault("StartTime", now - datetime.timedelta(seconds=window))
        datapoints = self.cloudwatch_client.get_metric_statistics(**params).get("Datapoints", [])
        values = [point[statistic] for point in datapoints if statistic in point]
        return AGGREGATORS[statistic](values) if values else None

    # Running tasks ---------------------------------------------------------------------------------------------

    def count_running_tasks_for_labourer(self, labourer: Labourer) -> int:
        """Tasks of the Labourer assumed running; asked of the TaskManager once per run (unless
        :attr:`running_tasks` has it), then kept up to date by :meth:`add_running_tasks_for_labourer`.

        :raises RuntimeError: No TaskManager is registered.
        """
        task_client = self._require_task_client()
        if labourer.id not in self.running_tasks:
            self.running_tasks[labourer.id] = task_client.get_count_of_running_tasks_for_labourer(labourer)
        return self.running_tasks[labourer.id]

    def add_running_tasks_for_labourer(self, labourer: Labourer, count: int = 1) -> None:
        """Add ``count`` to the running tasks of the Labourer (after invoking them)."""
        self.running_tasks[labourer.id] = self.count_running_tasks_for_labourer(labourer) + count

    # Durations -------------------------------------------------------------------------------------------------

    def get_labourer_average_duration(self, labourer: Labourer) -> int:
        """Average seconds of the Labourer's recent closed tasks (costs queries; see
        ``TaskManager.get_average_labourer_duration``).

        :raises RuntimeError: No TaskManager is registered.
        """
        return self._require_task_client().get_average_labourer_duration(labourer)

    def get_max_labourer_duration(self, labourer: Labourer) -> int:
        """The timeout configured on the Labourer's Lambda function, asked of Lambda once per container; the
        Labourer's ``duration`` when Lambda cannot tell.

        :raises RuntimeError: No Lambda client was given and no TaskManager (whose ``lambda_client`` is used) is
            registered.
        """
        name = labourer.function_name
        if name not in self._timeouts:
            timeout = None
            try:
                response = self._lambda().get_function_configuration(FunctionName=name)
                timeout = int(response["Timeout"])
            except (ClientError, BotoCoreError, KeyError, TypeError, ValueError) as err:
                logger.debug("timeout of %s unknown (%s); its duration %s stands", name, err, labourer.duration)
            self._timeouts[name] = timeout
        return self._timeouts[name] or labourer.duration

    def get_async_retry_attempts(self, labourer: Labourer) -> Optional[int]:
        """How many times Lambda itself retries a failed asynchronous invocation of the Labourer's function
        (``MaximumRetryAttempts`` of its EventInvokeConfig; 2 when it has none, Lambda's default), asked once per
        container. Those retries stack on sosw's own: the Worker templates set 0. None: Lambda cannot tell (e.g. the
        role may not read it).
        """
        name = labourer.function_name
        if name not in self._async_retries:
            self._async_retries[name] = async_retry_attempts(self._lambda(), name)
        return self._async_retries[name]

    # The task_client is only a pointer back to the TaskManager: its stats are the TaskManager's to report.
    def get_stats(self, recursive: bool = False) -> Dict[str, Any]:
        """Statistics of this EcologyManager alone (``recursive`` is accepted and ignored).

        :param recursive: Ignored: the TaskManager reports its own stats.
        """
        return super().get_stats(recursive=False)

    def reset_stats(self, recursive: bool = False) -> None:
        """Reset the statistics of this EcologyManager alone (``recursive`` is accepted and ignored).

        :param recursive: Ignored: the TaskManager resets its own stats.
        """
        super().reset_stats(recursive=False)
