"""
WorkerAssistant: the Essential that Workers call to report on their tasks.

Event: ``{'action': 'mark_task_as_completed' | 'mark_task_as_failed', 'task_id': '...', 'stats'?: {}, 'result'?: {}}``;
``stats`` and ``result`` may be objects or their JSON text.
"""

import dataclasses
import json
import logging
import types
from typing import Any, Dict, Mapping, Optional

from boto3.dynamodb.conditions import Attr

from sosw._settings import CUSTOM_CONFIG_NAME, config_row_name, parse_mapping, parse_text
from sosw.components.helpers import recursive_update
from sosw.essential import Essential
from sosw.exceptions import ConditionCheckFailed, InvalidEvent, InvalidTask, TaskNotFound

logger = logging.getLogger(__name__)

__all__ = ["WorkerAssistant", "WorkerAssistantSettings"]


@dataclasses.dataclass(frozen=True)
class WorkerAssistantSettings:
    """The WorkerAssistant's own config keys, checked (``task_config`` is the TaskManager's). Built by
    :meth:`from_config` when the WorkerAssistant is built, so a bad value fails there, naming the config row and key.

    :param dynamo_db_config: The top-level ``dynamo_db_config``, where 0.7.47's WorkerAssistant read its table:
        applied over ``task_config.dynamo_db_config``.
    :param field_names: Its ``field_names``: attribute names of the tasks table by field, e.g. ``{'task_id': 'id'}``.
    :param config_name: The config row, named in errors.

    .. code-block:: python

        settings = WorkerAssistantSettings.from_config({'dynamo_db_config': {'field_names': {'task_id': 'id'}}},
                                                       'sosw_worker_assistant_config')
        settings.field_names  # {'task_id': 'id'}
    """

    dynamo_db_config: Mapping[str, Any]
    field_names: Mapping[str, str]
    config_name: str = CUSTOM_CONFIG_NAME

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str) -> "WorkerAssistantSettings":
        """Parse the WorkerAssistant's config.

        :param config: The assembled config; a missing key has the default of this class.
        :param config_name: The config row, named in errors as ``<config_name>.<key>``.
        :raises ConfigError: A malformed value.
        """
        key = f"{config_name}.dynamo_db_config"
        dynamo_db_config = parse_mapping(config.get("dynamo_db_config"), key)
        field_names = parse_mapping(dynamo_db_config.get("field_names"), f"{key}.field_names")
        return cls(
            dynamo_db_config=dynamo_db_config,
            field_names=types.MappingProxyType({
                field: parse_text(name, f"{key}.field_names.{field}") for field, name in field_names.items()}),
            config_name=config_name,
        )


class WorkerAssistant(Essential):
    """Marks tasks completed (or failed) when Workers report back.

    A report for a task that is no longer in ``sosw_tasks`` (archived or moved to retry meanwhile) writes
    nothing and answers ``{'status': 'not_found'}``: the original created an orphan row instead.

    The tasks table is reached through the TaskManager (``task_config``); a top-level ``dynamo_db_config`` in the
    config, as the original WorkerAssistant read it, is applied over ``task_config.dynamo_db_config``.
    ``dynamo_db_client`` is the TaskManager's ``DynamoDbClient``: assigning another one (a mock in tests) replaces it
    there.

    .. code-block:: python

        assistant = WorkerAssistant(custom_config={'dynamo_db_config': {'table_name': 'autotest_sosw_tasks'}})
        assistant({'action': 'mark_task_as_completed', 'task_id': '3f2a9c', 'result': '{"rows": 12}'})
        # {'task_id': '3f2a9c', 'status': 'completed'}
    """

    DEFAULT_CONFIG: Dict[str, Any] = {"init_clients": ["Task"], "task_config": {}}
    ACTIONS = ("mark_task_as_completed", "mark_task_as_failed")

    task_client: Any = None
    #: The config, parsed: see :class:`WorkerAssistantSettings`.
    settings: WorkerAssistantSettings

    def init_config(self, custom_config: Optional[Mapping[str, Any]] = None) -> None:
        """Assemble ``self.config`` as every Essential does and parse it into :attr:`settings`, then apply a
        top-level ``dynamo_db_config`` over ``task_config.dynamo_db_config``: it describes the tasks table, which the
        TaskManager reaches.

        :param custom_config: Config that wins over everything else.
        :raises ConfigError: A malformed value, named ``<config row>.<key>``.
        """
        super().init_config(custom_config=custom_config)
        self.settings = WorkerAssistantSettings.from_config(self.config, config_row_name())
        if self.settings.dynamo_db_config:
            self.config["task_config"] = recursive_update(self.config.get("task_config") or {},
                                                          {"dynamo_db_config": dict(self.settings.dynamo_db_config)})

    @property
    def dynamo_db_client(self) -> Any:
        """The ``DynamoDbClient`` of the tasks table (the TaskManager's)."""
        if self.task_client is None:
            return self.__dict__.get("_dynamo_db_client")
        return self.task_client.dynamo_db_client

    @dynamo_db_client.setter
    def dynamo_db_client(self, client: Any) -> None:
        if self.task_client is None:
            self.__dict__["_dynamo_db_client"] = client
        else:
            self.task_client.dynamo_db_client = client

    def get_db_field_name(self, field: str) -> str:
        """The attribute name used in the tasks table for ``field`` (``dynamo_db_config.field_names`` may rename it).

        :param field: Name of the field, e.g. ``'task_id'``.
        """
        if self.task_client is None:
            return self.settings.field_names.get(field, field)
        return super().get_db_field_name(field)

    def __call__(self, event: Any, reset_result: bool = True) -> Dict[str, Any]:
        """Do what the event asks.

        :param event: ``{'action': ..., 'task_id': ..., 'stats'?: ..., 'result'?: ...}``, or its JSON text.
        :param reset_result: Start ``self.result`` afresh (see :meth:`sosw.app.Processor.__call__`).
        :return: ``{'task_id': ..., 'status': ...}``.
        :raises InvalidEvent: The event is malformed; ``field`` names what is wrong. Nothing was written.
        """
        if isinstance(event, (str, bytes)):
            try:
                event = json.loads(event)
            except ValueError as err:
                raise InvalidEvent(f"not valid JSON ({err})", field="event") from None
        if not isinstance(event, dict):
            raise InvalidEvent(f"expected an object, got {type(event).__name__}", field="event")
        action = event.get("action")
        if action not in self.ACTIONS:
            raise InvalidEvent(f"unsupported {action!r}; use one of {self.ACTIONS}", field="action", value=action)
        task_id = event.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise InvalidEvent(f"expected a non-empty string, got {task_id!r}", field="task_id", value=task_id)
        # As the original, only the fields the event has are passed: tests patch these methods and check the call.
        kwargs = {field: self._object_field(event, field) for field in ("stats", "result") if field in event}
        status = getattr(self, action)(task_id=task_id, **kwargs)
        super().__call__(event, reset_result=reset_result)
        return {"task_id": task_id, "status": status}

    @staticmethod
    def _object_field(event: Dict[str, Any], field: str) -> Optional[Dict[str, Any]]:
        """``event[field]`` as a dict: Workers in other languages send it as JSON text."""
        value = event[field]
        if isinstance(value, (str, bytes)):
            try:
                value = json.loads(value)
            except ValueError as err:
                raise InvalidEvent(f"not a JSON object ({err})", field=field) from None
        if value is not None and not isinstance(value, dict):
            raise InvalidEvent(f"expected an object, got {type(value).__name__}", field=field)
        return value

    def _report(self, task_id: str, stats: Optional[Dict], result: Optional[Dict], outcome: str) -> str:
        if not isinstance(task_id, str) or not task_id:
            raise InvalidTask(f"expected a non-empty string, got {task_id!r}", field="task_id", value=task_id)
        try:
            status = self.task_client.report_task(task_id, outcome, stats=stats, result=result)
            if outcome == "failed" and status == "unchanged":
                status = self._record_failure_in_queue(task_id, stats, result)
        except TaskNotFound:
            self.stats["reports_for_missing_tasks"] += 1
            logger.warning("%s report for task %s, which is no longer in the tasks table; nothing written", outcome,
                           task_id)
            return "not_found"
        self.stats[f"tasks_{status}"] += 1
        return status

    def _record_failure_in_queue(self, task_id: str, stats: Optional[Dict], result: Optional[Dict]) -> str:
        """A failure reported for a task that is back in the queue (an earlier attempt's, or a Worker called by
        hand): record it as the original did, ``failed_attempts`` + 1 and ``stat_*`` / ``result_*``, and leave the
        task its place in the queue. A task that completed or left meanwhile is not touched."""
        _ = self.get_db_field_name
        attributes = {f"stat_{k}": v for k, v in (stats or {}).items() if v is not None}
        attributes.update({f"result_{k}": v for k, v in (result or {}).items() if v is not None})
        try:
            self.dynamo_db_client.update(
                {_("task_id"): task_id}, attributes_to_update=attributes or None,
                attributes_to_increment={_("failed_attempts"): 1},
                condition_expression=Attr(_("task_id")).exists() & Attr(_("completed_at")).not_exists())
        except ConditionCheckFailed:
            return "unchanged"
        if self.meta_handler is not None:
            self.meta_handler.post(task_id=task_id, action="failed")
        return "failed_in_queue"

    def mark_task_as_completed(self, task_id: str, stats: Optional[Dict] = None, result: Optional[Dict] = None) -> str:
        """Mark the task completed; ``stats`` and ``result`` are stored as ``stat_<key>`` and ``result_<key>``.

        :param task_id: The task.
        :param stats: Statistics of the Worker.
        :param result: Result of the Worker.
        :return: ``'completed'``, ``'already_completed'`` or ``'not_found'``.
        :raises InvalidTask: (an ``AssertionError``, as in 0.7.47) ``task_id`` is no string.
        """
        return self._report(task_id, stats, result, "completed")

    def mark_task_as_failed(self, task_id: str, stats: Optional[Dict] = None, result: Optional[Dict] = None) -> str:
        """Record a failed attempt (``failed_attempts`` + 1, ``stat_<key>``, ``result_<key>``). A task that left the
        queue expires at once, so the Scavenger retries it at its next run; a task back in the queue keeps its
        place.

        :param task_id: The task.
        :param stats: Statistics of the Worker.
        :param result: Result of the Worker, e.g. the error.
        :return: ``'failed'``, ``'failed_in_queue'``, ``'already_completed'``, ``'unchanged'`` (it completed or left
            meanwhile) or ``'not_found'``.
        :raises InvalidTask: (an ``AssertionError``, as in 0.7.47) ``task_id`` is no string.
        """
        return self._report(task_id, stats, result, "failed")
