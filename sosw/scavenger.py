"""
Scavenger: run every minute, it archives completed tasks, retries expired ones after a growing delay and closes
as dead (with an SNS message) those that used up their attempts.
"""

import dataclasses
import json
import logging
from typing import Any, Dict, List, Mapping, Optional

from sosw import constants
from sosw._settings import CUSTOM_CONFIG_NAME, config_row_name, parse_int, parse_seconds, parse_text
from sosw.components.metrics import COMPLETED, DEAD, EXPIRED, RETRIED, EmfMetrics
from sosw.essential import Essential
from sosw.labourer import Labourer
from sosw.managers._failures import LabourersFailed

logger = logging.getLogger(__name__)

__all__ = ["Scavenger", "ScavengerSettings"]


@dataclasses.dataclass(frozen=True)
class ScavengerSettings:
    """The Scavenger's config keys, checked (``task_config`` is the TaskManager's, ``sns_config`` the
    SnsManager's). Built by :meth:`from_config` when the Scavenger is built, so a bad value fails there, naming the
    config row and key, instead of failing for every Labourer at every run while expired tasks pile up.

    :param min_retry_delay: Seconds, a floor under ``max_duration`` in the retry delay; 0: off.
    :param retry_tasks_limit: Tasks returned from the retry table per Labourer and run.
    :param dead_sns_topic: Topic name or ARN that dead tasks are announced to (unless ``sns_config.recipient``).
    :param config_name: The config row, named in errors.

    .. code-block:: python

        ScavengerSettings.from_config({'min_retry_delay': '90'}, 'sosw_scavenger_config').min_retry_delay  # 90
        ScavengerSettings.from_config({'min_retry_delay': 'soon'}, 'sosw_scavenger_config')
        # ConfigError: sosw_scavenger_config.min_retry_delay: expected a number of seconds, got 'soon'
    """

    min_retry_delay: int = 0
    retry_tasks_limit: int = 100
    dead_sns_topic: str = constants.DEAD_SNS_TOPIC
    config_name: str = CUSTOM_CONFIG_NAME

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str) -> "ScavengerSettings":
        """Parse the Scavenger's config.

        :param config: The assembled config; a missing key has the default of this class.
        :param config_name: The config row, named in errors as ``<config_name>.<key>``.
        :raises ConfigError: A malformed value.
        """
        # ``None`` or "" turned the floor off in 0.7.47's configs; whole seconds, as the delay is.
        delay = config.get("min_retry_delay") or 0
        return cls(
            min_retry_delay=int(parse_seconds(delay, f"{config_name}.min_retry_delay")),
            retry_tasks_limit=parse_int(config.get("retry_tasks_limit", cls.retry_tasks_limit),
                                        f"{config_name}.retry_tasks_limit", minimum=1),
            dead_sns_topic=parse_text(config.get("dead_sns_topic", cls.dead_sns_topic),
                                      f"{config_name}.dead_sns_topic"),
            config_name=config_name,
        )


class Scavenger(Essential):
    """For each Labourer: :meth:`handle_expired_tasks`, :meth:`archive_tasks`, :meth:`retry_tasks`.

    One query per Labourer finds every task that left the queue; each move of a task is a conditional
    transaction, so two Scavengers running at once never archive or re-queue one task twice.

    Retry delay: ``max_duration × attempts`` seconds, ``max_duration`` being the Labourer's (see
    :meth:`calculate_delay_for_task_retry`); ``min_retry_delay`` (seconds, off by default) sets a floor under
    ``max_duration``.

    Dead tasks are announced through ``sns_client`` (an ``SnsManager`` built from ``sns_config``) to its
    ``recipient``, by default the topic ``dead_sns_topic`` (``SoswWorkerErrors``) of the account.

    The config is parsed once, at construction, into :attr:`settings` and :attr:`metrics`: a bad value
    (``min_retry_delay: 'soon'``) raises :class:`~sosw.exceptions.ConfigError` there.

    Each run prints one CloudWatch EMF line per Labourer (config ``metrics``, ``metrics_namespace``): the tasks this
    run moved, each counted once even when two Scavengers run at once, as ``Completed`` (archived), ``Expired``
    (moved to the retry table or closed as dead), ``Retried`` (returned from the retry table to the queue) and
    ``Dead``. The counts come from the moves themselves: no query is made for them.

    .. code-block:: python

        scavenger = Scavenger(custom_config={'task_config': {'labourers': {'my_worker': {'max_attempts': 5}}}})
        scavenger()  # {'tasks_archived': 12, 'tasks_moved_to_retry': 1}
    """

    DEFAULT_CONFIG: Dict[str, Any] = {
        "init_clients": ["Task", "Sns"],
        "retry_tasks_limit": ScavengerSettings.retry_tasks_limit,
        "min_retry_delay": ScavengerSettings.min_retry_delay,
        "sns_config": {"subject": "sosw: task closed as dead"},
        "task_config": {},
    }

    task_client: Any = None
    sns_client: Any = None
    #: The config, parsed: see :class:`ScavengerSettings`.
    settings: ScavengerSettings
    #: The EMF lines of each run (config ``metrics``, ``metrics_namespace``).
    metrics: EmfMetrics

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._in_flight: Optional[Dict[str, List[Dict]]] = None

    def init_config(self, custom_config: Optional[Mapping[str, Any]] = None) -> None:
        """Assemble ``self.config`` as every Essential does, then parse it into :attr:`settings`.

        :param custom_config: Config that wins over everything else.
        :raises ConfigError: A malformed value, named ``<config row>.<key>``.
        """
        super().init_config(custom_config=custom_config)
        self.settings = ScavengerSettings.from_config(self.config, config_row_name())
        self.metrics = EmfMetrics.from_config(self.config, config_row_name())

    def __call__(self, event: Any = None, reset_result: bool = True) -> Dict[str, int]:
        """Archive, retry or close the tasks of every Labourer.

        :param event: The scheduled event, if any; its content is not used.
        :param reset_result: Start ``self.result`` afresh (see :meth:`sosw.app.Processor.__call__`).
        :return: What changed, e.g. ``{'tasks_archived': 12, 'tasks_moved_to_retry': 1}``.
        :raises ~sosw.managers._failures.LabourersFailed: (a ``RuntimeError``) the work of a Labourer failed, naming
            it and the AWS error; the other Labourers were scavenged first.
        """
        before = self.get_stats()
        failures: Dict[Any, Exception] = {}
        try:
            for labourer in self.task_client.register_labourers(health=False):
                # Zeros first: a quiet Labourer's line says "none this run", which a dashboard tells from no data.
                self.metrics.add(labourer.id, **{COMPLETED: 0, EXPIRED: 0, RETRIED: 0, DEAD: 0})
                try:
                    self._in_flight = self.task_client.get_tasks_in_flight_for_labourer(labourer)
                    self.handle_expired_tasks(labourer)
                    self.archive_tasks(labourer)
                    self.retry_tasks(labourer)
                except Exception as err:
                    failures[labourer.id] = err
                    self.stats["labourer_failures"] += 1
                    logger.exception("scavenging %s failed; the other Labourers go on", labourer.id)
                finally:
                    self._in_flight = None
            if self.sns_client is not None:
                self.sns_client.commit()
        finally:
            # What was moved before a failure was moved all the same: its counts are printed.
            self.metrics.flush()
        super().__call__(event, reset_result=reset_result)
        after = self.get_stats()
        if failures:
            raise LabourersFailed("Scavenger", failures)
        changes = {k: after[k] - before.get(k, 0) for k in after if k.startswith("tasks_")}
        return {k: v for k, v in changes.items() if v}

    # Completed -------------------------------------------------------------------------------------------------

    def archive_tasks(self, labourer: Labourer) -> List[str]:
        """Archive the Labourer's completed tasks to ``sosw_closed_tasks``."""
        tasks = self._in_flight["completed"] if self._in_flight else \
            self.task_client.get_completed_tasks_for_labourer(labourer)
        archived = self.task_client.archive_many(tasks)
        self.metrics.add(labourer.id, **{COMPLETED: len(archived)})
        return archived

    # Expired ---------------------------------------------------------------------------------------------------

    def handle_expired_tasks(self, labourer: Labourer) -> None:
        """Retry or close as dead every expired task of the Labourer."""
        tasks = self._in_flight["expired"] if self._in_flight else \
            self.task_client.get_expired_tasks_for_labourer(labourer)
        retry = [t for t in tasks if self.should_retry_task(labourer, t)]
        dead = [t for t in tasks if not self.should_retry_task(labourer, t)]
        if retry:
            moved = self.task_client.move_tasks_to_retry_table(
                [(task, self.calculate_delay_for_task_retry(labourer, task)) for task in retry])
            self.metrics.add(labourer.id, **{EXPIRED: len(moved)})
        if dead:
            self._close_dead(labourer, dead)

    def process_expired_task(self, labourer: Labourer, task: Dict[str, Any]) -> None:
        """Retry one expired task, or close it as dead if it used up its attempts."""
        if self.should_retry_task(labourer, task):
            self.move_task_to_retry_table(task, labourer)
        else:
            self._close_dead(labourer, [task])

    def should_retry_task(self, labourer: Labourer, task: Dict[str, Any]) -> bool:
        """Whether the task has attempts left (``attempts < max_attempts`` of the Labourer)."""
        attempts = int(task.get(self.get_db_field_name("attempts")) or 0)
        return attempts < labourer.get_attr("max_attempts")

    def calculate_delay_for_task_retry(self, labourer: Labourer, task: Dict[str, Any]) -> int:
        """Seconds to wait before the retry: ``max_duration × attempts``, so it grows with the attempts made.

        ``max_duration`` is the Labourer's custom attribute, else the EcologyManager's
        ``get_max_labourer_duration`` (asked once per run and kept on the Labourer). Config ``min_retry_delay``
        (0 by default) is a floor under ``max_duration``.
        """
        try:
            max_duration = labourer.get_attr("max_duration")
        except AttributeError:
            max_duration = self.task_client.ecology_client.get_max_labourer_duration(labourer)
            labourer.set_custom_attribute("max_duration", max_duration)
        attempts = int(task.get(self.get_db_field_name("attempts")) or 0)
        return int(max(int(max_duration), self.settings.min_retry_delay) * attempts)

    def move_task_to_retry_table(self, task: Dict[str, Any], labourer: Labourer) -> bool:
        """Move one expired task to ``sosw_retry_tasks`` with its retry delay."""
        moved = self.task_client.move_task_to_retry_table(task, self.calculate_delay_for_task_retry(labourer, task))
        self.metrics.add(labourer.id, **{EXPIRED: int(bool(moved))})
        return moved

    def _close_dead(self, labourer: Labourer, tasks: List[Dict[str, Any]]) -> None:
        _ = self.get_db_field_name
        closed = set(self.task_client.archive_many(tasks, dead=True))
        self.stats["closed_dead_tasks"] += len(closed)
        self.metrics.add(labourer.id, **{EXPIRED: len(closed), DEAD: len(closed)})
        for task in tasks:
            if task[_("task_id")] not in closed:
                continue
            logger.error("task %s of %s closed as dead after %s attempts", task[_("task_id")], labourer.id,
                         task.get(_("attempts")))
            self._sns().send_message(json.dumps({
                "event": "task_dead",
                "labourer_id": labourer.id,
                "task_id": task[_("task_id")],
                "attempts": task.get(_("attempts")),
                "payload": task.get(_("payload")),
            }, default=str, indent=2))

    def _sns(self) -> Any:
        """``sns_client`` with a recipient: ``sns_config.recipient``, else the ``dead_sns_topic`` of the account,
        resolved at the first dead task so that building a Scavenger asks nothing of STS."""
        if self.sns_client is None:  # a config whose ``init_clients`` left it out
            self.register_clients(["Sns"])
        if not self.sns_client.recipient:
            topic = self.settings.dead_sns_topic
            self.sns_client.set_recipient(topic if topic.startswith("arn:") else self._arn("sns", topic))
        return self.sns_client

    # Retry -----------------------------------------------------------------------------------------------------

    def retry_tasks(self, labourer: Labourer) -> List[str]:
        """Return the Labourer's tasks whose retry time has come to the head of its queue."""
        tasks = self.task_client.get_tasks_to_retry_for_labourer(labourer, limit=self.settings.retry_tasks_limit)
        retried = self.task_client.retry_tasks(labourer, tasks)
        self.metrics.add(labourer.id, **{RETRIED: len(retried)})
        return retried
