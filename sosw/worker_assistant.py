"""
WorkerAssistant: the Essential that Workers call to report on their tasks.

Event: ``{'action': 'mark_task_as_completed' | 'mark_task_as_failed', 'task_id': '...', 'stats'?: {}, 'result'?: {}}``;
``stats`` and ``result`` may be objects or their JSON text. Together they may take :data:`MAX_REPORT_BYTES` of the
task's DynamoDB item; a larger one is stored as a ``truncated`` marker (see :class:`WorkerAssistant`).
"""

import dataclasses
import json
import logging
import types
from typing import Any, Dict, Mapping, Optional, Tuple

from boto3.dynamodb.conditions import Attr

from sosw._settings import CUSTOM_CONFIG_NAME, config_row_name, parse_mapping, parse_text
from sosw.components.helpers import recursive_update
from sosw.components.kick import Kicker, kicker_for
from sosw.essential import Essential
from sosw.exceptions import ConditionCheckFailed, InvalidEvent, InvalidTask, TaskNotFound
from sosw.managers.task import MAX_PAYLOAD_BYTES

logger = logging.getLogger(__name__)

__all__ = ["WorkerAssistant", "WorkerAssistantSettings", "MAX_REPORT_BYTES", "DYNAMODB_ITEM_BYTES"]

#: DynamoDB's largest item: attribute names and values together.
DYNAMODB_ITEM_BYTES = 400 * 1024
#: The most that a report's ``stats`` and ``result`` may take together, as stored (``stat_<key>``, ``result_<key>``):
#: the task's item also holds its payload (up to ``MAX_PAYLOAD_BYTES``) and attributes of its own, and the closed
#: tasks table adds two more. 50,000 bytes.
MAX_REPORT_BYTES = DYNAMODB_ITEM_BYTES - MAX_PAYLOAD_BYTES - 9_600
#: Characters of an oversized field's JSON kept in its marker, for a look at what it was.
TRUNCATED_HEAD_CHARS = 1_000
# The attribute prefix of each field of a report, as the task stores it.
_PREFIXES = {"stats": "stat_", "result": "result_"}


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

    A completion closes its task as completed exactly once, whatever state the task is in: queued, running,
    expired, waiting in the retry table or closed as dead (see ``TaskManager.mark_task_as_completed``); a race with
    an Orchestrator or a Scavenger moving the task is retried on the task as it is then. A failure reported for a
    task that is no longer in ``sosw_tasks``, and a completion of a task that never was, write nothing and answer
    ``{'status': 'not_found'}``: the original created an orphan row instead.

    ``stats`` and ``result`` together may take :data:`MAX_REPORT_BYTES` (50,000 bytes, measured as their JSON):
    beyond that DynamoDB would refuse the task's item. The report is still recorded (refusing a completion would
    make the task expire and run again, only to be refused again), with the larger field, or both if need be,
    replaced by ``{'truncated': {'bytes': <its size>, 'limit': MAX_REPORT_BYTES, 'head': <its first 1,000
    characters of JSON>}}``, stored as ``result_truncated`` (or ``stat_truncated``). Each truncation is logged as a
    warning and counted in ``stats['truncated_result']`` (``truncated_stats``). Keep large results in S3 and report
    their key.

    A completion frees a slot of its Labourer: the WorkerAssistant then kicks the Orchestrator (an asynchronous
    invocation, debounced: see :mod:`sosw.components.kick`), so that the next queued task starts within a second or
    so. A kick that fails is logged and counted (``kick_failures``); the report stands.

    The WorkerAssistant emits no CloudWatch metrics: a report names its task, not the task's Labourer, and reading
    the task to learn it would cost a call per report.

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
    #: Kicks the Orchestrator after a completion (config ``kick_orchestrator``, ``sosw_orchestrator_lambda``,
    #: ``kick_debounce_seconds``): see :mod:`sosw.components.kick`.
    kicker: Kicker

    def init_config(self, custom_config: Optional[Mapping[str, Any]] = None) -> None:
        """Assemble ``self.config`` as every Essential does and parse it into :attr:`settings`, then apply a
        top-level ``dynamo_db_config`` over ``task_config.dynamo_db_config``: it describes the tasks table, which the
        TaskManager reaches.

        :param custom_config: Config that wins over everything else.
        :raises ConfigError: A malformed value, named ``<config row>.<key>``.
        """
        super().init_config(custom_config=custom_config)
        self.settings = WorkerAssistantSettings.from_config(self.config, config_row_name())
        self.kicker = kicker_for(self, config_row_name())
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
        stats, result = self._fit_report(task_id, stats, result)
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
        if status == "completed":
            # The task's slot is free: the Orchestrator may start the next task now rather than at its next minute.
            # The completion does not read the task, so the kick names no Labourer (see sosw.components.kick).
            self.kicker.kick()
        return status

    def _fit_report(self, task_id: str, stats: Optional[Dict],
                    result: Optional[Dict]) -> Tuple[Optional[Dict], Optional[Dict]]:
        """``stats`` and ``result`` as they fit in the task's item: within :data:`MAX_REPORT_BYTES` together, the
        larger replaced by its ``truncated`` marker first, then the other if still needed."""
        fields = {"stats": stats, "result": result}
        sizes = {field: _stored_bytes(_PREFIXES[field], value) for field, value in fields.items()}
        for field in sorted(fields, key=lambda name: sizes[name], reverse=True):
            if sum(sizes.values()) <= MAX_REPORT_BYTES:
                break
            text = json.dumps(fields[field], default=str, ensure_ascii=False)
            fields[field] = {"truncated": {"bytes": sizes[field], "limit": MAX_REPORT_BYTES,
                                           "head": text[:TRUNCATED_HEAD_CHARS]}}
            logger.warning("task %s: its %s takes %d bytes, over the %d that a report may store with its task; "
                           "stored as %struncated", task_id, field, sizes[field], MAX_REPORT_BYTES, _PREFIXES[field])
            self.stats[f"truncated_{field}"] += 1
            sizes[field] = _stored_bytes(_PREFIXES[field], fields[field])
        return fields["stats"], fields["result"]

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
        """Close the task as completed, wherever it is (queued, running, expired, in the retry table, closed as dead);
        ``stats`` and ``result`` are stored as ``stat_<key>`` and ``result_<key>``.

        :param task_id: The task.
        :param stats: Statistics of the Worker.
        :param result: Result of the Worker.
        :return: ``'completed'`` (closed by this call), ``'already_completed'`` or ``'not_found'`` (no such task in
            any table).
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


def _stored_bytes(prefix: str, values: Optional[Mapping[str, Any]]) -> int:
    """What ``values`` take as attributes ``<prefix><key>``, measured as compact UTF-8 JSON: at least what DynamoDB
    counts for strings and maps, and close to it for numbers. None values are not stored, so not counted."""
    return sum(len(f"{prefix}{key}".encode())
               + len(json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":")).encode())
               for key, value in (values or {}).items() if value is not None)
