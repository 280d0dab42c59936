"""
Orchestrator: run every minute, it invokes as many queued tasks of each Labourer as the Labourer may run now.

Invocations per run = max(floor(``max_simultaneous_invocations`` × coefficient[health]) − running, 0), with
``invocation_number_coefficient`` defaulting to ``{0: 0, 1: 0, 2: 0.5, 3: 0.75, 4: 1}`` (keys may be strings, as
JSON configs give them).

.. code-block:: python

    from sosw.app import LambdaGlobals, get_lambda_handler
    from sosw.orchestrator import Orchestrator

    global_vars = LambdaGlobals()
    lambda_handler = get_lambda_handler(Orchestrator, global_vars)
"""

import logging
import math
from typing import Any, Dict, List

from sosw import constants
from sosw.essential import Essential
from sosw.exceptions import ConfigError
from sosw.labourer import Labourer

logger = logging.getLogger(__name__)


class Orchestrator(Essential):
    """Iterates the configured Labourers and invokes the right number of tasks for each. A Labourer whose run
    fails (Lambda refuses, a query fails) is logged and counted in ``stats``; the others still run.

    Config (``sosw_orchestrator_config`` over ``sosw_essential_config``): ``invocation_number_coefficient``,
    ``max_simultaneous_invocations`` (for Labourers without their own) and ``task_config``.

    .. code-block:: python

        orchestrator = Orchestrator(custom_config={'task_config': {'labourers': {'my_worker': {
            'max_simultaneous_invocations': 5}}}})
        orchestrator({})  # {'my_worker': 5} when five tasks were queued
    """

    DEFAULT_CONFIG: Dict[str, Any] = {
        "init_clients": ["Task"],
        "invocation_number_coefficient": dict(constants.INVOCATION_NUMBER_COEFFICIENT),
        "max_simultaneous_invocations": 10,
        "task_config": {},
    }

    task_client: Any = None

    def __call__(self, event: Any) -> Dict[str, int]:
        """Invoke the queued tasks of every Labourer, as many as each may run now.

        :param event: The scheduled event; its content is not used.
        :return: Tasks invoked per Labourer id.
        """
        invoked: Dict[str, int] = {}
        for labourer in self.task_client.register_labourers():
            try:
                invoked[labourer.id] = self.invoke_for_labourer(labourer)
            except Exception:
                self.stats["labourer_failures"] += 1
                logger.exception("orchestrating %s failed; the other Labourers go on", labourer.id)
        super().__call__(event)
        return invoked

    def _normalize_config(self, layer: Dict) -> Dict:
        raw = layer.get("invocation_number_coefficient")
        if isinstance(raw, dict):
            try:
                layer["invocation_number_coefficient"] = {int(status): value for status, value in raw.items()}
            except (TypeError, ValueError):
                raise ConfigError(f"health statuses must be integers, got {sorted(map(str, raw))}",
                                  config_name="invocation_number_coefficient") from None
        return layer

    @property
    def coefficients(self) -> Dict[int, float]:
        raw = self.config.get("invocation_number_coefficient") or {}
        try:
            return {int(status): float(value) for status, value in raw.items()}
        except (TypeError, ValueError, AttributeError):
            raise ConfigError(f"expected {{health status: coefficient}}, got {raw!r}",
                              config_name="invocation_number_coefficient") from None

    def get_labourers(self) -> List[Labourer]:
        """The configured Labourers (``task_config.labourers``), as the TaskManager reads them."""
        return self.task_client.get_labourers()

    def get_desired_invocation_number_for_labourer(self, labourer: Labourer) -> int:
        """How many tasks of the Labourer to invoke now, from its health, its limit and its running tasks.

        The health is the one registered for this run; a Labourer that was not registered (built by hand, as tests
        do) gets it from the EcologyManager.
        """
        try:
            health = labourer.get_attr("health")
        except AttributeError:
            health = self.task_client.ecology_client.get_labourer_status(labourer=labourer)
        coefficient = self.coefficients.get(int(health), 0)
        limit = labourer.max_simultaneous_invocations
        if limit is None:
            limit = int(self.config["max_simultaneous_invocations"])
        desired = int(math.floor(limit * coefficient))
        if desired <= 0:
            return 0
        running = self.task_client.ecology_client.count_running_tasks_for_labourer(labourer)
        return max(desired - running, 0)

    def invoke_for_labourer(self, labourer: Labourer) -> int:
        """Invoke the next tasks of the Labourer. :return: How many were invoked."""
        number = self.get_desired_invocation_number_for_labourer(labourer)
        if number <= 0:
            return 0
        tasks = self.task_client.get_next_for_labourer(labourer, cnt=number)
        invoked = self.task_client.invoke_tasks(labourer, tasks)
        self.task_client.ecology_client.add_running_tasks_for_labourer(labourer, count=len(invoked))
        self.stats[f"invoked_{labourer.id}"] += len(invoked)
        return len(invoked)
