"""
Siblings: a Lambda running out of time hands the rest of its work to a new invocation of itself.

.. code-block:: python

    from sosw import Processor
    from sosw.app import LambdaGlobals, get_lambda_handler

    class MyProcessor(Processor):
        DEFAULT_CONFIG = {'init_clients': ['Siblings'], 'shutdown_period': 10}

        def __call__(self, event):
            cursor = event.get('cursor', 0)
            while global_vars.lambda_context.get_remaining_time_in_millis() > self.config['shutdown_period'] * 1000:
                cursor = self.process(cursor)
                if cursor is None:
                    return 'done'
            self.siblings_client.spawn_sibling(global_vars.lambda_context, payload={'cursor': cursor}, force=True)

    global_vars = LambdaGlobals()
    lambda_handler = get_lambda_handler(MyProcessor, global_vars)
"""

import json
import logging
import math
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

from sosw import constants
from sosw.components._boto import make_client
from sosw.components.base import Component
from sosw.exceptions import InvalidInput

logger = logging.getLogger(__name__)

__all__ = ["SiblingsManager"]

#: The function :meth:`SiblingsManager.get_approximate_concurrent_executions` asks about when none is named and
#: ``AWS_LAMBDA_FUNCTION_NAME`` is not set (outside Lambda), as in the original.
DEFAULT_FUNCTION_NAME = "test_function"


class SiblingsManager(Component):
    """Helpers for a Lambda that invokes copies of itself, e.g. to keep processing a queue when it runs out of time.

    The Role of the Lambda needs ``lambda:InvokeFunction`` on itself, ``events:ListRuleNamesByTarget`` and
    ``events:DescribeRule`` (for the safety check of :meth:`spawn_sibling`) and ``cloudwatch:GetMetricStatistics``
    (for :meth:`get_approximate_concurrent_executions`).

    In test mode (``test=True`` or ``STAGE=test``) siblings are invoked with ``InvocationType='DryRun'``: the call
    is checked but nothing runs.

    :param custom_config: Config merged over ``DEFAULT_CONFIG``.
    :param lambda_client: boto3 Lambda client; one is made if omitted.
    :param events_client: boto3 EventBridge client; one is made if omitted.
    :param cloudwatch_client: boto3 CloudWatch client; one is made if omitted.

    .. code-block:: python

        siblings = SiblingsManager()
        if siblings.get_approximate_concurrent_executions(name='my_function') < 10:
            siblings.spawn_sibling(lambda_context, payload={'cursor': 120})
    """

    DEFAULT_CONFIG: Dict[str, Any] = {}

    def __init__(self, custom_config: Optional[Dict[str, Any]] = None, *, lambda_client: Any = None,
                 events_client: Any = None, cloudwatch_client: Any = None, test: Optional[bool] = None,
                 **kwargs: Any) -> None:
        super().__init__(custom_config, test=test)
        self.lambda_client = lambda_client or make_client("lambda")
        self.events_client = events_client or make_client("events")
        self.cloudwatch_client = cloudwatch_client or make_client("cloudwatch")

    def any_events_rules_enabled(self, lambda_context: Any) -> bool:
        """Whether any enabled EventBridge (CloudWatch Events) rule targets the running function.

        Check this before spawning siblings from a Lambda that a scheduled rule triggers: once the rule is disabled,
        a chain of siblings spawning siblings would otherwise never stop, and cost a lot.

        :param lambda_context: Context object of the Lambda invocation; its ``invoked_function_arn`` is the target.
        :raises InvalidInput: The context has no ``invoked_function_arn``.

        .. code-block:: python

            if siblings.any_events_rules_enabled(global_vars.lambda_context):
                siblings.spawn_sibling(global_vars.lambda_context, payload={'cursor': 120}, force=True)
        """
        arn = getattr(lambda_context, "invoked_function_arn", None)
        if not arn:
            raise InvalidInput("required to find the rules that target the function",
                               field="lambda_context.invoked_function_arn")
        paginator = self.events_client.get_paginator("list_rule_names_by_target")
        for page in paginator.paginate(TargetArn=arn):
            for name in page.get("RuleNames", []):
                try:
                    state = self.events_client.describe_rule(Name=name)["State"]
                except self.events_client.exceptions.ResourceNotFoundException:
                    continue  # deleted since it was listed: it triggers nothing any more
                if state == "ENABLED":
                    return True
        return False

    def get_approximate_concurrent_executions(self, minutes_back: int = 5, name: Optional[str] = None) -> int:
        """Approximate number of concurrent executions of a function over the last ``minutes_back`` minutes.

        From CloudWatch metrics of namespace ``AWS/Lambda``, each read as one datapoint aggregated over the whole
        window (the period is the window): the number of ``Invocations`` times the average ``Duration``, divided by
        the length of the window, rounded up. ``Invocations`` is not read when there is no ``Duration``.

        :param minutes_back: Length of the window, in whole minutes.
        :param name: Function name; defaults to the running Lambda (``AWS_LAMBDA_FUNCTION_NAME``), else
            ``'test_function'``.
        :return: The approximate concurrency; 0 without datapoints.
        :raises InvalidInput: ``minutes_back`` is not a positive integer.

        .. code-block:: python

            siblings.get_approximate_concurrent_executions(minutes_back=10, name='sosw_orchestrator')  # e.g. 3
        """
        name = name or os.environ.get(constants.ENV_FUNCTION_NAME) or DEFAULT_FUNCTION_NAME
        if isinstance(minutes_back, bool) or not isinstance(minutes_back, int) or minutes_back < 1:
            raise InvalidInput(f"expected a positive integer, got {minutes_back!r}", field="minutes_back")

        period = 60 * minutes_back
        end = datetime.now(timezone.utc)
        common = {
            "Namespace": "AWS/Lambda",
            "StartTime": end - timedelta(minutes=minutes_back),
            "EndTime": end,
            "Period": period,
            "Dimensions": [{"Name": "FunctionName", "Value": name}],
        }
        durations = self._datapoints(MetricName="Duration", Statistics=["Average"], **common)
        if not durations:
            logger.debug("no Duration datapoints for %s in the last %d minutes", name, minutes_back)
            return 0
        invocations = self._datapoints(MetricName="Invocations", Statistics=["Sum"], **common)
        # One datapoint is expected; should CloudWatch cut the window in two, their sum and mean stand for it.
        average_duration_ms = sum(durations) / len(durations)
        return math.ceil(sum(invocations) * average_duration_ms / (1000 * period))

    def _datapoints(self, **kwargs: Any) -> List[float]:
        """The values of the single statistic asked for."""
        statistic = kwargs["Statistics"][0]
        response = self.cloudwatch_client.get_metric_statistics(**kwargs)
        return [point[statistic] for point in response.get("Datapoints", [])]

    def spawn_sibling(self, lambda_context: Any, payload: Optional[Dict] = None, force: bool = False) -> bool:
        """Invoke a copy of the running function asynchronously, to continue the work.

        Unless ``force``, spawns only while an enabled Events rule targets the function (see
        :meth:`any_events_rules_enabled`); when none does, logs a warning and returns ``False``.

        :param lambda_context: Context object of the Lambda invocation; the sibling is its ``invoked_function_arn``
            (or ``function_name``).
        :param payload: The event of the sibling, sent as JSON (``{}`` if omitted), e.g. the remaining work.
        :param force: Skip the check of Events rules.
        :return: Whether a sibling was invoked.
        :raises InvalidInput: The context has neither ``invoked_function_arn`` nor ``function_name``.

        .. code-block:: python

            siblings.spawn_sibling(global_vars.lambda_context, payload={'cursor': 120}, force=True)
        """
        function = getattr(lambda_context, "invoked_function_arn", None) or getattr(lambda_context, "function_name",
                                                                                    None)
        if not function:
            raise InvalidInput("has neither invoked_function_arn nor function_name", field="lambda_context")
        if not force and not self.any_events_rules_enabled(lambda_context):
            logger.warning("not spawning a sibling of %s: no enabled Events rule targets it (pass force=True to spawn "
                           "anyway)", function)
            return False

        self.lambda_client.invoke(
            FunctionName=function,
            InvocationType="DryRun" if self.test else "Event",
            Payload=json.dumps(payload if payload is not None else {}),
        )
        self.stats["siblings_spawned"] += 1
        logger.debug("spawned a sibling of %s", function)
        return True
