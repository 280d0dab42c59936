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

import dataclasses
import logging
import math
import types
from typing import Any, Dict, List, Mapping, Optional, Set

from sosw import constants
from sosw._kick_session import KickSession
from sosw._settings import CUSTOM_CONFIG_NAME, config_row_name, parse_int, parse_number
from sosw.components.kick import Kicker, KickSettings, is_kick, kick_labourer
from sosw.components.metrics import INVOKED, RUNNING, EmfMetrics
from sosw.essential import Essential
from sosw.exceptions import ConfigError
from sosw.labourer import Labourer
from sosw.managers._failures import LabourersFailed

logger = logging.getLogger(__name__)

__all__ = ["Orchestrator", "OrchestratorSettings"]


@dataclasses.dataclass(frozen=True)
class OrchestratorSettings:
    """The Orchestrator's config keys, checked (``task_config`` is the TaskManager's). Built by :meth:`from_config`
    when the Orchestrator is built, so a bad value fails there, naming the config row and key.

    :param invocation_number_coefficient: Share of ``max_simultaneous_invocations`` per health status (0 to 4);
        a status that is not listed gets 0.
    :param max_simultaneous_invocations: For Labourers that set no limit of their own.
    :param kick_session_seconds: The most a kicked run dispatches one Labourer (less when the Lambda has less time
        left): see :mod:`sosw._kick_session`.
    :param config_name: The config row, named in errors.

    .. code-block:: python

        settings = OrchestratorSettings.from_config({'invocation_number_coefficient': {'4': 1, '3': '0.5'}},
                                                    'sosw_orchestrator_config')
        settings.invocation_number_coefficient  # {4: 1.0, 3: 0.5}
        OrchestratorSettings.from_config({'max_simultaneous_invocations': 'ten'}, 'sosw_orchestrator_config')
        # ConfigError: sosw_orchestrator_config.max_simultaneous_invocations: expected a whole number of at least 0...
    """

    invocation_number_coefficient: Mapping[int, float]
    max_simultaneous_invocations: int = 10
    kick_session_seconds: float = 40.0
    config_name: str = CUSTOM_CONFIG_NAME

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str) -> "OrchestratorSettings":
        """Parse the Orchestrator's config.

        :param config: The assembled config; a missing key has the default of this class.
        :param config_name: The config row, named in errors as ``<config_name>.<key>``.
        :raises ConfigError: A malformed value.
        """
        key = f"{config_name}.invocation_number_coefficient"
        raw = config.get("invocation_number_coefficient", constants.INVOCATION_NUMBER_COEFFICIENT)
        if raw is not None and not isinstance(raw, Mapping):
            raise ConfigError(f"expected {{health status: coefficient}}, got {raw!r}", config_name=key)
        coefficients = {parse_int(status, f"{key}.{status}", minimum=None):
                        parse_number(share, f"{key}.{status}", minimum=0) for status, share in (raw or {}).items()}
        limit = config.get("max_simultaneous_invocations", cls.max_simultaneous_invocations)
        return cls(
            invocation_number_coefficient=types.MappingProxyType(coefficients),
            max_simultaneous_invocations=parse_int(limit, f"{config_name}.max_simultaneous_invocations"),
            kick_session_seconds=parse_number(config.get("kick_session_seconds", cls.kick_session_seconds),
                                              f"{config_name}.kick_session_seconds", minimum=0),
            config_name=config_name,
        )


class Orchestrator(Essential):
    """Iterates the configured Labourers and invokes the right number of tasks for each. A Labourer whose run
    fails (a query fails, a permission is missing) is logged and counted in ``stats``; the others still run, then
    the run raises :class:`~sosw.managers._failures.LabourersFailed` naming it, so that Lambda's ``Errors`` shows it.
    However many Orchestrators run at once, a Labourer's ``max_simultaneous_invocations`` holds: see
    ``TaskManager.invoke_tasks``.

    Besides its minute schedule, the Orchestrator is *kicked*: the Scheduler invokes it once it has created tasks
    (the kick names their Labourer, and only that Labourer is orchestrated), the WorkerAssistant once a completion has
    freed a slot (every Labourer is). See :mod:`sosw.components.kick` and the Orchestrator's page of the docs.

    Config (``sosw_orchestrator_config`` over ``sosw_essential_config``): ``invocation_number_coefficient``,
    ``max_simultaneous_invocations`` (for Labourers without their own), ``task_config``, and ``metrics`` /
    ``metrics_namespace`` (see :attr:`metrics`). They are parsed once, at construction, into :attr:`settings` and
    :attr:`metrics`: a bad value raises :class:`~sosw.exceptions.ConfigError` there.

    Each run prints one CloudWatch EMF line per Labourer that it orchestrated: ``Invoked``, and ``Running`` (the
    tasks it counted as running before it invoked, plus those it invoked) when it counted them. It counts them only
    when the Labourer's health allows invocations; the length of the queue is never counted (that would cost a
    query per Labourer and run), so the Orchestrator emits no ``Queued``.

    .. code-block:: python

        orchestrator = Orchestrator(custom_config={'task_config': {'labourers': {'my_worker': {
            'max_simultaneous_invocations': 5}}}})
        orchestrator({})  # {'my_worker': 5} when five tasks were queued
    """

    DEFAULT_CONFIG: Dict[str, Any] = {
        "init_clients": ["Task"],
        "invocation_number_coefficient": dict(constants.INVOCATION_NUMBER_COEFFICIENT),
        "max_simultaneous_invocations": OrchestratorSettings.max_simultaneous_invocations,
        "task_config": {},
    }

    task_client: Any = None
    lambda_client: Any = None
    #: The config, parsed: see :class:`OrchestratorSettings`.
    settings: OrchestratorSettings
    #: The EMF lines of each run (config ``metrics``, ``metrics_namespace``).
    metrics: EmfMetrics
    #: Kicks a fresh Orchestrator when a kicked run's session ends with tasks queued (config
    #: ``sosw_orchestrator_lambda``): see :mod:`sosw.components.kick`.
    kicker: Kicker

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Running tasks per Labourer as counted for the decision of this run: no query is made for the metrics.
        self._running_counted: Dict[str, int] = {}
        # Labourers whose EventInvokeConfig was checked by this container (see _warn_of_async_retries).
        self._retries_checked: Set[str] = set()

    def init_config(self, custom_config: Optional[Mapping[str, Any]] = None) -> None:
        """Assemble ``self.config`` as every Essential does, then parse it into :attr:`settings`.

        :param custom_config: Config that wins over everything else.
        :raises ConfigError: A malformed value, named ``<config row>.<key>``.
        """
        super().init_config(custom_config=custom_config)
        self.settings = OrchestratorSettings.from_config(self.config, config_row_name())
        self.metrics = EmfMetrics.from_config(self.config, config_row_name())
        self.kicker = Kicker(KickSettings.from_config(self.config, config_row_name()), self._lambda_client,
                             lambda: self.stats)
        # Labourers without a limit of their own get the Orchestrator's from the TaskManager, which holds the limit
        # however many Orchestrators run at once (see TaskManager.invoke_tasks).
        task_config = self.config.get("task_config")
        if isinstance(task_config, dict) and task_config.get("max_simultaneous_invocations") is None:
            task_config["max_simultaneous_invocations"] = self.settings.max_simultaneous_invocations

    def __call__(self, event: Any, reset_result: bool = True) -> Dict[str, int]:
        """Invoke the queued tasks of every Labourer, as many as each may run now.

        :param event: The scheduled event (its content is not used), or a kick (see :mod:`sosw.components.kick`):
            ``{'source': 'sosw.kick', 'labourer_id'?: ...}``, which orchestrates only the Labourer it names, if any.
        :param reset_result: Start ``self.result`` afresh (see :meth:`sosw.app.Processor.__call__`).
        :return: Tasks invoked per Labourer id.
        :raises ~sosw.managers._failures.LabourersFailed: (a ``RuntimeError``) the work of a Labourer failed,
            naming it and the AWS error; the other Labourers were orchestrated first.
        """
        invoked: Dict[str, int] = {}
        failures: Dict[Any, Exception] = {}
        self._running_counted = {}
        kicked = is_kick(event)
        try:
            labourers = self.task_client.register_labourers()
            if kicked:
                labourers = self._kicked_labourers(labourers, kick_labourer(event))
            for labourer in labourers:
                self._warn_of_async_retries(labourer)
                try:
                    invoked[labourer.id] = self._kick_session(labourer) if kicked else \
                        self.invoke_for_labourer(labourer)
                except Exception as err:
                    failures[labourer.id] = err
                    self.stats["labourer_failures"] += 1
                    logger.exception("orchestrating %s failed; the other Labourers go on", labourer.id)
                    continue
                counts = {INVOKED: invoked[labourer.id]}
                if labourer.id in self._running_counted:
                    counts[RUNNING] = self._running_counted[labourer.id] + invoked[labourer.id]
                self.metrics.add(labourer.id, **counts)
        finally:
            self.metrics.flush()
        super().__call__(event, reset_result=reset_result)
        if failures:
            raise LabourersFailed("Orchestrator", failures)
        return invoked

    def _warn_of_async_retries(self, labourer: Labourer) -> None:
        """Log once per container a Labourer whose function lets Lambda retry its asynchronous invocations: those
        retries stack on sosw's own, and a retry of an old attempt can start while a newer one runs (the Worker's
        start guard keeps it from running the user's code, at the cost of a Lambda run). Counted in
        ``stats['labourers_with_async_retries']``."""
        if str(labourer.id) in self._retries_checked or getattr(getattr(self.task_client, "settings", None),
                                                                 "read_labourer_timeout", True) is False:
            return
        self._retries_checked.add(str(labourer.id))
        ask = getattr(self.task_client.ecology_client, "get_async_retry_attempts", None)  # a user's own may lack it
        retries = ask(labourer) if callable(ask) else None
        if isinstance(retries, int) and retries > 0:  # users' tests give a MagicMock as ecology_client
            self.stats["labourers_with_async_retries"] += 1
            logger.warning("Labourer %s: Lambda retries its asynchronous invocations %d time(s), on top of sosw's "
                           "retries; set EventInvokeConfig MaximumRetryAttempts: 0 on its function (the Worker "
                           "templates do)", labourer.id, retries)

    def _kicked_labourers(self, labourers: List[Labourer], named: Optional[str]) -> List[Labourer]:
        """The Labourers a kick dispatches in this run: the one it names; for a kick that names none, the only
        Labourer, or none when there are several: each gets a kick of its own (a session dispatches one)."""
        self.stats["kicked_runs"] += 1
        if named is not None:
            return [labourer for labourer in labourers if str(labourer.id) == named]
        if len(labourers) == 1:
            return labourers
        for labourer in labourers:
            if self.capacity(labourer) > 0:
                self.kicker.kick(str(labourer.id), debounce=False)
        return []

    def _kick_session(self, labourer: Labourer) -> int:
        """Dispatch the Labourer until its queue is empty or the session's budget is spent (see
        :class:`~sosw._kick_session.KickSession`); a session that ran out of time with tasks queued kicks a fresh
        one."""
        budget = self.settings.kick_session_seconds
        context = self.lambda_context
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            budget = min(budget, context.get_remaining_time_in_millis() / 1000 - 10)
        if budget <= 0:
            return self.invoke_for_labourer(labourer)
        session = KickSession(self, labourer, budget)
        invoked = session.run()
        if session.queue_left and invoked:
            self.kicker.kick(str(labourer.id), debounce=False)
        return invoked

    def capacity(self, labourer: Labourer) -> int:
        """Tasks of the Labourer that may run at once now: its limit times the coefficient of its health."""
        try:
            health = labourer.get_attr("health")
        except AttributeError:
            health = self.task_client.ecology_client.get_labourer_status(labourer=labourer)
        coefficient = self.settings.invocation_number_coefficient.get(int(health), 0)
        limit = labourer.max_simultaneous_invocations
        if limit is None:
            limit = self.settings.max_simultaneous_invocations
        return int(math.floor(limit * coefficient))

    def _lambda_client(self) -> Any:
        lambda_client = self.task_client.lambda_client if self.task_client is not None else None
        if lambda_client is None:
            self.register_clients(["lambda"])
            return self.lambda_client
        return lambda_client

    def _normalize_config(self, layer: Dict[str, Any]) -> Dict[str, Any]:
        # JSON rows give the health statuses as "4", Python configs as 4: one key each, so that a layer overrides
        # the statuses it names. Keys that are no integer stay as they are for the settings to refuse by name.
        raw = layer.get("invocation_number_coefficient")
        if isinstance(raw, dict):
            layer["invocation_number_coefficient"] = {_status_key(status): share for status, share in raw.items()}
        return layer

    @property
    def coefficients(self) -> Dict[int, float]:
        """``invocation_number_coefficient`` as parsed: ``{health status: share of the limit}``."""
        return dict(self.settings.invocation_number_coefficient)

    def get_labourers(self) -> List[Labourer]:
        """The configured Labourers (``task_config.labourers``), as the TaskManager reads them."""
        return self.task_client.get_labourers()

    def get_desired_invocation_number_for_labourer(self, labourer: Labourer) -> int:
        """How many tasks of the Labourer to invoke now, from its health, its limit and its running tasks.

        The health is the one registered for this run; a Labourer that was not registered (built by hand, as tests
        do) gets it from the EcologyManager.
        """
        desired = self.capacity(labourer)
        if desired <= 0:
            return 0
        running = self.task_client.ecology_client.count_running_tasks_for_labourer(labourer)
        self._running_counted[labourer.id] = int(running)
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


def _status_key(status: Any) -> Any:
    """A health status key as an ``int`` when it is the text of one, else unchanged."""
    if isinstance(status, str):
        try:
            return int(status)
        except ValueError:
            pass
    return status
