"""
TaskManager: every operation on tasks. The state of a task is its ``greenfield`` number compared with the
timestamps of the current run (see ``docs/greenfield.rst``):

- queued: ``greenfield < start``; new tasks join the end of the queue, retried ones its head;
- invoked/running: ``expired <= greenfield <= invoked`` and no ``completed_at``;
- expired: ``start <= greenfield < expired`` and no ``completed_at``;
- completed: ``completed_at`` set; the Scavenger archives it to ``sosw_closed_tasks``.

Every move of a task between tables is one DynamoDB transaction with conditions, so two Essentials racing on the
same task never both succeed; events of the task log travel in the same requests.

.. code-block:: python

    from sosw.managers.task import TaskManager

    task_manager = TaskManager(custom_config={'labourers': {'my_worker': {'max_simultaneous_invocations': 5}}})
    labourer = task_manager.get_labourer('my_worker')
    task_manager.create_tasks(labourer, [{'day': '2026-11-20'}, {'day': '2026-11-21'}])
    labourer = task_manager.register_labourers()[0]
    task_manager.invoke_tasks(labourer, task_manager.get_next_for_labourer(labourer, cnt=2))
"""

import json
import logging
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import BotoCoreError, ClientError

from sosw import constants
from sosw.app import Processor
from sosw.components.benchmark import benchmark
from sosw.components.helpers import chunks, trim_arn_to_name
from sosw.exceptions import (
    ConditionCheckFailed,
    ConfigError,
    InvalidArgument,
    InvalidInput,
    InvalidTask,
    LabourerNotFound,
    TaskNotFound,
    TransactionCancelled,
)
from sosw.labourer import Labourer

logger = logging.getLogger(__name__)

__all__ = ["TaskManager"]

#: Largest payload we accept, leaving room under DynamoDB's 400 KB item limit for the other attributes.
MAX_PAYLOAD_BYTES = 350_000


class TaskManager(Processor):
    """Handles all operations on tasks: creation, invocation, completion lookups, archiving, retries.

    Config (``task_config`` of an Essential): ``dynamo_db_config`` (table, ``index_greenfield``, ``row_mapper``,
    ``field_names`` to rename attributes), ``labourers`` (``{name: {max_simultaneous_invocations, arn,
    health_metrics, duration, cooldown, max_attempts}}``), ``greenfield_invocation_delta``, ``greenfield_task_step``,
    ``max_attempts`` (and ``max_attempts_<labourer>``), the ``sosw_closed_tasks_table``, ``sosw_retry_tasks_table``
    and index names, ``meta_handler_config`` (turns on the event log), ``read_labourer_timeout`` (take a Labourer's
    default ``duration`` from its Lambda timeout), ``invoke_threads``.
    """

    DEFAULT_CONFIG: Dict[str, Any] = {
        "init_clients": ["DynamoDb", "lambda", "Ecology"],
        "dynamo_db_config": {
            "table_name": constants.TASKS_TABLE,
            "index_greenfield": constants.TASKS_GREENFIELD_INDEX,
            "row_mapper": {
                "task_id": "S",
                "labourer_id": "S",
                "created_at": "N",
                "greenfield": "N",
                "attempts": "N",
                "closed_at": "N",
                "completed_at": "N",
                "desired_launch_time": "N",
                "failed_attempts": "N",
                "arn": "S",
                "payload": "S",
                "labourer_id_task_status": "S",
            },
            "required_fields": ["task_id", "labourer_id", "created_at", "greenfield"],
            "field_names": {
                "task_id": "task_id",
                "labourer_id": "labourer_id",
                "greenfield": "greenfield",
            },
        },
        "greenfield_invocation_delta": constants.GREENFIELD_INVOCATION_DELTA,
        "greenfield_task_step": constants.GREENFIELD_TASK_STEP,
        "labourers": {},
        "max_attempts": constants.DEFAULT_MAX_ATTEMPTS,
        "max_closed_to_analyse_for_duration": 10,
        "sosw_closed_tasks_table": constants.CLOSED_TASKS_TABLE,
        "sosw_closed_tasks_labourer_status_index": constants.CLOSED_TASKS_STATUS_INDEX,
        "sosw_retry_tasks_table": constants.RETRY_TASKS_TABLE,
        "sosw_retry_tasks_greenfield_index": constants.RETRY_TASKS_GREENFIELD_INDEX,
        "read_labourer_timeout": True,
        "invoke_threads": 8,
        "transaction_attempts": 5,
    }

    dynamo_db_client: Any = None
    lambda_client: Any = None
    ecology_client: Any = None
    meta_handler_client: Any = None

    def __init__(self, custom_config: Optional[Dict] = None, **kwargs: Any):
        super().__init__(custom_config=custom_config, **kwargs)
        if self.config.get("meta_handler_config") and self.meta_handler_client is None:
            self.register_clients(["MetaHandler"])
        # The end of each queue as this instance last wrote it: the index it is read from may lag behind writes.
        self._queue_ends: Dict[str, int] = {}

    def _on_client_registered(self, name: str, client: Any) -> None:
        if name == "ecology":
            client.register_task_manager(self)

    @property
    def _meta(self) -> Any:
        """The MetaHandler when the event log is on, else None."""
        meta = self.meta_handler_client
        if meta is None or getattr(meta, "dynamo_db_client", None) is None:
            return None
        return meta

    # Names -----------------------------------------------------------------------------------------------------

    def get_db_field_name(self, key: str) -> str:
        """The attribute name used in the table for ``key`` (``dynamo_db_config.field_names`` may rename it)."""
        return self.config["dynamo_db_config"].get("field_names", {}).get(key, key)

    @property
    def _tasks_table(self) -> str:
        return self.config["dynamo_db_config"]["table_name"]

    @property
    def _greenfield_index(self) -> str:
        return self.config["dynamo_db_config"]["index_greenfield"]

    @property
    def _closed_table(self) -> str:
        return self.config["sosw_closed_tasks_table"]

    @property
    def _retry_table(self) -> str:
        return self.config["sosw_retry_tasks_table"]

    @property
    def _delta(self) -> int:
        return int(self.config["greenfield_invocation_delta"])

    @property
    def _step(self) -> int:
        return int(self.config["greenfield_task_step"])

    def now(self) -> int:
        """Current time in whole seconds; every timestamp of the state machine comes from here."""
        return int(time.time())

    # Labourers -------------------------------------------------------------------------------------------------

    def get_labourers(self) -> List[Labourer]:
        """Configured Labourers: ``config['labourers']`` is ``{'name_of_lambda': {'some_setting': 'value'}}``."""
        labourers = self.config.get("labourers") or {}
        if not isinstance(labourers, dict):
            raise ConfigError(f"expected {{name: settings}}, got {type(labourers).__name__}", config_name="labourers")
        result = []
        for name, settings in labourers.items():
            if not isinstance(settings, dict):
                raise ConfigError(f"expected a dict of settings, got {settings!r}", config_name=f"labourers.{name}")
            limit = settings.get("max_simultaneous_invocations")
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
                raise ConfigError(f"expected a non-negative integer, got {limit!r}",
                                  config_name=f"labourers.{name}.max_simultaneous_invocations")
            for key in ("duration", "cooldown", "max_attempts"):
                value = settings.get(key)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                    raise ConfigError(f"expected a non-negative integer, got {value!r}",
                                      config_name=f"labourers.{name}.{key}")
            result.append(Labourer(id=name, **{k: v for k, v in settings.items() if k != "id"}))
        return result

    def get_labourer(self, labourer_id: str) -> Labourer:
        """The configured Labourer named ``labourer_id`` (a name or a Lambda ARN), registered for this run.

        :raises LabourerNotFound: It is not in ``config['labourers']``.
        """
        name = trim_arn_to_name(labourer_id) if isinstance(labourer_id, str) else labourer_id
        for labourer in self.register_labourers(health=False):
            if str(labourer.id) == str(name):  # configs in the wild use numbers as ids
                return labourer
        raise LabourerNotFound(f"{labourer_id!r} is not a configured Labourer "
                               f"(known: {sorted(self.config.get('labourers') or {})})", field="labourer_id",
                               value=labourer_id)

    def register_labourers(self, health: bool = True) -> List[Labourer]:
        """Labourers stamped for this run: ``start`` (now), ``invoked`` (start + delta), ``expired`` (invoked −
        (duration + cooldown)), ``max_attempts``, ``max_duration`` (the function's timeout, from the
        EcologyManager) and, if ``health``, ``health`` from the EcologyManager. The EcologyManager gets this
        TaskManager again, which resets its caches of the previous run.

        :param health: Ask the EcologyManager for health (CloudWatch); the Scavenger does not need it.
        """
        if self.ecology_client is not None:
            self.ecology_client.register_task_manager(self)
        start = self.now()
        result = []
        for labourer in self.get_labourers():
            max_duration = labourer.duration
            if self.ecology_client is not None and self.config.get("read_labourer_timeout"):
                max_duration = self.ecology_client.get_max_labourer_duration(labourer)
                # Only a real number: users' tests give a MagicMock as ecology_client.
                if not labourer.duration_configured and isinstance(max_duration, int) and max_duration > 0:
                    labourer.duration = max_duration
            labourer.set_custom_attribute("max_duration", max_duration)
            labourer.set_custom_attribute("start", start)
            labourer.set_custom_attribute("invoked", start + self._delta)
            labourer.set_custom_attribute("expired", start + self._delta - (labourer.duration + labourer.cooldown))
            max_attempts = (self.config.get(f"max_attempts_{labourer.id}") or getattr(labourer, "max_attempts", None)
                            or self.config["max_attempts"])
            labourer.set_custom_attribute("max_attempts", int(max_attempts))
            if labourer.max_simultaneous_invocations is None and \
                    self.config.get("max_simultaneous_invocations") is not None:
                # The original's task_config default for every Labourer; else the Orchestrator's applies.
                labourer.set_custom_attribute("max_simultaneous_invocations",
                                              int(self.config["max_simultaneous_invocations"]))
            if health:
                status = self.ecology_client.get_labourer_status(labourer) if self.ecology_client else 4
                labourer.set_custom_attribute("health", status)
            result.append(labourer)
        return result

    # Reading tasks ---------------------------------------------------------------------------------------------

    def _query_greenfield(self, labourer: Labourer, value: Any, op: str, **kwargs: Any) -> Any:
        _ = self.get_db_field_name
        keys = {_("labourer_id"): str(labourer.id)}
        comparisons = {}
        if op == "between":
            keys[f"st_between_{_('greenfield')}"], keys[f"en_between_{_('greenfield')}"] = value
        else:
            keys[_("greenfield")] = value
            comparisons[_("greenfield")] = op
        return self.dynamo_db_client.get_by_query(keys=keys, table_name=self._tasks_table,
                                                  index_name=self._greenfield_index, comparisons=comparisons,
                                                  fetch_all_fields=True, **kwargs)

    def get_task_by_id(self, task_id: str) -> Optional[Dict[str, Any]]:
        """The task (GetItem, strongly consistent), or None."""
        return self.dynamo_db_client.get_by_key({self.get_db_field_name("task_id"): task_id},
                                                table_name=self._tasks_table, fetch_all_fields=True,
                                                consistent_read=True)

    def get_next_for_labourer(self, labourer: Labourer, cnt: int = 1,
                              only_ids: bool = False) -> List[Union[str, Dict]]:
        """The next ``cnt`` queued tasks of the Labourer, oldest greenfield first.

        :param only_ids: Return only the task ids.
        """
        if cnt <= 0:
            return []
        tasks = self._query_greenfield(labourer, labourer.get_attr("start"), "<", max_items=cnt)
        return [t[self.get_db_field_name("task_id")] for t in tasks] if only_ids else tasks

    def get_oldest_greenfield_for_labourer(self, labourer: Labourer, reverse: bool = False) -> int:
        """Greenfield of the head of the queue (``reverse``: of its end); ``FIRST_GREENFIELD`` if it is empty.
        Queued means a greenfield below the current time (the Labourer needs no registration)."""
        tasks = self._query_greenfield(labourer, self.now(), "<", max_items=1, desc=reverse)
        return int(tasks[0][self.get_db_field_name("greenfield")]) if tasks else constants.FIRST_GREENFIELD

    def get_newest_greenfield_for_labourer(self, labourer: Labourer) -> int:
        """Greenfield of the end of the queue (the latest added); ``FIRST_GREENFIELD`` if it is empty."""
        return self.get_oldest_greenfield_for_labourer(labourer, reverse=True)

    def get_length_of_queue_for_labourer(self, labourer: Labourer) -> int:
        """Number of queued tasks of the Labourer."""
        return self._query_greenfield(labourer, self.now(), "<", return_count=True)

    def get_invoked_tasks_for_labourer(self, labourer: Labourer,
                                       completed: Optional[bool] = None) -> List[Dict[str, Any]]:
        """Tasks of the Labourer invoked during the current run (``greenfield >= invoked``).

        :param completed: True: only completed ones; False: only not completed; None: all.
        """
        return self._query_greenfield(labourer, labourer.get_attr("invoked"), ">=",
                                      filter_expression=self._completed_filter(completed))

    def _completed_filter(self, completed: Optional[bool]) -> Any:
        if completed is None:
            return None
        attr = Attr(self.get_db_field_name("completed_at"))
        return attr.exists() if completed else attr.not_exists()

    def get_running_tasks_for_labourer(self, labourer: Labourer,
                                       count: bool = False) -> Union[List[Dict[str, Any]], int]:
        """Tasks invoked and neither completed nor expired (``greenfield >= expired``): assumed running.

        :param count: Return only their number (much cheaper).
        """
        return self._query_greenfield(labourer, labourer.get_attr("expired"), ">=",
                                      filter_expression=self._completed_filter(False), return_count=count)

    def get_count_of_running_tasks_for_labourer(self, labourer: Labourer) -> int:
        """Number of tasks assumed running."""
        return self.get_running_tasks_for_labourer(labourer, count=True)

    def get_completed_tasks_for_labourer(self, labourer: Labourer) -> List[Dict[str, Any]]:
        """Tasks of the Labourer marked completed (also those completed after they expired)."""
        return self._query_greenfield(labourer, labourer.get_attr("start"), ">=",
                                      filter_expression=self._completed_filter(True))

    def get_expired_tasks_for_labourer(self, labourer: Labourer) -> List[Dict[str, Any]]:
        """Tasks invoked longer than ``duration + cooldown`` ago and not completed."""
        return self._query_greenfield(labourer, (labourer.get_attr("start"), labourer.get_attr("expired") - 1),
                                      "between", filter_expression=self._completed_filter(False))

    def get_tasks_in_flight_for_labourer(self, labourer: Labourer) -> Dict[str, List[Dict[str, Any]]]:
        """Every task of the Labourer that left the queue, sorted into ``completed``, ``expired`` and ``running``,
        with one query. The Scavenger's way to read what it needs."""
        _ = self.get_db_field_name
        result: Dict[str, List[Dict[str, Any]]] = {"completed": [], "expired": [], "running": []}
        for task in self._query_greenfield(labourer, labourer.get_attr("start"), ">="):
            if task.get(_("completed_at")) is not None:
                result["completed"].append(task)
            elif task[_("greenfield")] < labourer.get_attr("expired"):
                result["expired"].append(task)
            else:
                result["running"].append(task)
        return result

    def count_tasks_by_state(self, labourer: Labourer) -> Dict[str, int]:
        """Tasks of a registered Labourer by state: ``queued``, ``running``, ``expired``, ``completed`` (not yet
        archived), ``retrying`` (waiting in the retry table), ``closed`` (archived as completed) and ``dead``.
        Costs five queries; meant for dashboards and the ``sosw status`` command."""
        _ = self.get_db_field_name
        in_flight = self.get_tasks_in_flight_for_labourer(labourer)
        counts = {"queued": self.get_length_of_queue_for_labourer(labourer)}
        counts.update({state: len(tasks) for state, tasks in in_flight.items()})
        counts["retrying"] = self.dynamo_db_client.get_by_query({_("labourer_id"): str(labourer.id)},
                                                                table_name=self._retry_table, return_count=True)
        for state, suffix in (("closed", 1), ("dead", 0)):
            counts[state] = self.dynamo_db_client.get_by_query(
                {_("labourer_id_task_status"): f"{labourer.id}_{suffix}"}, table_name=self._closed_table,
                index_name=self.config["sosw_closed_tasks_labourer_status_index"], return_count=True)
        return counts

    def get_tasks_to_retry_for_labourer(self, labourer: Labourer, limit: Optional[int] = None) -> List[Dict]:
        """Tasks in ``sosw_retry_tasks`` whose ``desired_launch_time`` has come by the ``start`` of this run,
        earliest first.

        :param labourer: A registered Labourer.
        :param limit: At most this many.
        """
        _ = self.get_db_field_name
        return self.dynamo_db_client.get_by_query(
            keys={_("labourer_id"): str(labourer.id), _("desired_launch_time"): labourer.get_attr("start")},
            comparisons={_("desired_launch_time"): "<="},
            table_name=self._retry_table, index_name=self.config["sosw_retry_tasks_greenfield_index"],
            max_items=limit, fetch_all_fields=True,
        )

    def _recently_closed(self, labourer: Labourer, status: int) -> List[Dict[str, Any]]:
        """The Labourer's latest closed tasks, completed (``status`` 1) or dead (0), newest first."""
        return self.dynamo_db_client.get_by_query(
            keys={self.get_db_field_name("labourer_id_task_status"): f"{labourer.id}_{status}"},
            table_name=self._closed_table, index_name=self.config["sosw_closed_tasks_labourer_status_index"],
            desc=True, max_items=int(self.config["max_closed_to_analyse_for_duration"]), fetch_all_fields=True,
        )

    def _run_seconds(self, task: Dict[str, Any]) -> Optional[int]:
        """Seconds of the last run of a completed task: from its invocation (greenfield − delta) to completion."""
        completed, greenfield = task.get(self.get_db_field_name("completed_at")), \
            task.get(self.get_db_field_name("greenfield"))
        if completed is None or greenfield is None:
            return None
        return max(int(completed) - (int(greenfield) - self._delta), 0)

    @benchmark
    def get_average_labourer_duration(self, labourer: Labourer, **kwargs: Any) -> int:
        """Average seconds per attempt over the Labourer's latest closed tasks (``max_closed_to_analyse_for_duration``
        of them, completed and dead). Lambda does not tell how long a failed attempt ran, so each attempt of a dead
        task counts as ``max_duration``. 0 when no task was closed yet. Costs two queries.

        :param labourer: The Labourer (registered, for its ``max_duration``).
        :param kwargs: Accepted for the original's signature (it took ``*a, **kw``); unused.
        """
        _ = self.get_db_field_name
        closed_at = _("closed_at")
        tasks = self._recently_closed(labourer, 1) + self._recently_closed(labourer, 0)
        tasks.sort(key=lambda task: task.get(closed_at) or 0, reverse=True)
        try:
            max_duration = labourer.get_attr("max_duration")
        except AttributeError:
            max_duration = labourer.duration
        durations: List[int] = []
        for task in tasks[:int(self.config["max_closed_to_analyse_for_duration"])]:
            seconds = self._run_seconds(task)
            if seconds is None:
                durations.extend([int(max_duration)] * int(task.get(_("attempts")) or 0))
            else:
                durations.append(seconds)
        return round(sum(durations) / len(durations)) if durations else 0

    def get_max_labourer_duration(self, labourer: Labourer) -> int:
        """Longest seconds among the Labourer's recent completed tasks; its ``duration`` if it has none. (The
        EcologyManager's method of that name gives the function's configured timeout instead.)"""
        durations = [d for d in map(self._run_seconds, self._recently_closed(labourer, 1)) if d is not None]
        return max(durations) if durations else labourer.duration

    # Creating tasks --------------------------------------------------------------------------------------------

    def construct_payload_for_task(self, **kwargs: Any) -> str:
        """Combine the keyword arguments into one JSON payload; a ``payload`` argument (dict or JSON text) is the
        base the others are added to."""
        payload = kwargs.pop("payload", None)
        if payload is None:
            base: Dict[str, Any] = {}
        elif isinstance(payload, str):
            try:
                base = json.loads(payload)
            except ValueError as err:
                raise InvalidInput(f"not valid JSON ({err})", field="payload") from None
        else:
            base = payload
        if not isinstance(base, dict):
            raise InvalidInput(f"expected a JSON object, got {type(base).__name__}", field="payload")
        text = json.dumps({**base, **kwargs}, default=str)
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise InvalidInput(f"{len(text.encode())} bytes is more than {MAX_PAYLOAD_BYTES}", field="payload")
        return text

    def _new_task(self, labourer: Labourer, greenfield: int, payload: str, task_id: Optional[str] = None,
                  extra: Optional[Dict] = None) -> Dict[str, Any]:
        _ = self.get_db_field_name
        task = {
            _("task_id"): task_id or uuid.uuid4().hex,
            _("labourer_id"): str(labourer.id),
            _("created_at"): self.now(),
            _("greenfield"): greenfield,
            _("attempts"): 0,
            _("payload"): payload,
        }
        task.update(extra or {})
        return task

    def create_task(self, labourer: Labourer, strict: bool = True, **kwargs: Any) -> Dict[str, Any]:
        """Queue one task at the end of the Labourer's queue: one query for the end of the queue, one PutItem (and
        one for its ``created`` event when the event log is on). For many tasks use :meth:`create_tasks`.

        :param labourer: The Labourer to run it.
        :param strict: Forbid keyword arguments that name generated fields (``task_id``, ``greenfield``, ...) unless
            they equal the generated value; with False they are stored as given.
        :param kwargs: The payload (``payload=`` dict, plus any other arguments).
        :return: The task as written.
        """
        _ = self.get_db_field_name
        generated = {_(k) for k in ("task_id", "labourer_id", "created_at", "greenfield", "attempts")}
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k in generated}
        if strict:
            for key, value in extra.items():
                if not (key == _("labourer_id") and str(value) == str(labourer.id)):
                    raise InvalidInput("is generated; pass strict=False to set it", field=key, value=value)
            extra = {}
        payload = self.construct_payload_for_task(**kwargs)
        greenfield = extra.pop(_("greenfield"), None) or self.get_newest_greenfield_for_labourer(labourer) + self._step
        task = self._new_task(labourer, int(greenfield), payload, task_id=extra.pop(_("task_id"), None), extra=extra)
        self.dynamo_db_client.put(task, table_name=self._tasks_table)
        if self._meta:
            self._meta.post(task[_("task_id")], "created", labourer_id=str(labourer.id))
        self.stats["tasks_created"] += 1
        return task

    def create_tasks(self, labourer: Labourer, payloads: Iterable[Union[Dict, str]],
                     task_ids: Optional[Sequence[str]] = None, skip_existing: bool = False) -> List[str]:
        """Queue many tasks at the end of the Labourer's queue: one query for the end of the queue, then
        BatchWriteItem (25 items a call; the ``created`` events ride in the same calls). Every payload is validated
        before anything is written.

        :param labourer: The Labourer to run them.
        :param payloads: One payload (dict or JSON object text) per task.
        :param task_ids: Ids to use (e.g. derived from the job, so that writing the same rows again overwrites
            instead of duplicating); random ones otherwise.
        :param skip_existing: Leave out ids that already exist in the tasks, retry or closed tables (costs a
            BatchGetItem per 100 ids): for resuming work that may have been written already.
        :return: The ids of the tasks written.
        :raises InvalidInput: Naming the payload at fault; nothing was written.
        """
        texts = []
        for index, payload in enumerate(payloads):
            try:
                texts.append(self.construct_payload_for_task(payload=payload))
            except InvalidInput as err:
                raise InvalidInput(err.message, field=f"payloads[{index}]") from None
        ids = list(task_ids) if task_ids is not None else [uuid.uuid4().hex for _ in texts]
        if len(ids) != len(texts):
            raise InvalidInput(f"{len(ids)} ids for {len(texts)} payloads", field="task_ids")
        existing = self._existing_task_ids(labourer, ids) if skip_existing and ids else set()
        todo = [(task_id, text) for task_id, text in zip(ids, texts) if task_id not in existing]
        if not todo:
            return []
        newest = max(self.get_newest_greenfield_for_labourer(labourer), self._queue_ends.get(labourer.id, 0))
        requests: List[Tuple[str, str, Dict]] = []
        for position, (task_id, text) in enumerate(todo, start=1):
            requests.append((self._tasks_table, "put",
                             self._new_task(labourer, newest + self._step * position, text, task_id=task_id)))
            if self._meta:
                requests.append(self._meta.batch_request(task_id, "created", labourer_id=str(labourer.id)))
        self.dynamo_db_client.batch_write(requests)
        self._queue_ends[labourer.id] = newest + self._step * len(todo)
        self.stats["tasks_created"] += len(todo)
        return [task_id for task_id, _ in todo]

    def _existing_task_ids(self, labourer: Labourer, ids: Sequence[str]) -> Set[str]:
        _ = self.get_db_field_name
        found: Set[str] = set()
        for table, extra_key in ((self._tasks_table, {}), (self._closed_table, {}),
                                 (self._retry_table, {_("labourer_id"): str(labourer.id)})):
            keys = [{**extra_key, _("task_id"): task_id} for task_id in ids]
            found.update(item[_("task_id")] for item in
                         self.dynamo_db_client.batch_get_items_one_table(keys, table_name=table, fetch_all_fields=True))
        return found

    # Transactions per task -------------------------------------------------------------------------------------

    def _transact_per_task(self, groups: List[Tuple[str, List[Dict]]]) -> List[str]:
        """Apply each task's actions atomically, many tasks per transaction. A task whose condition fails (another
        Essential got there first) is left out and the rest go again; conflicts are retried with jitter.

        :param groups: ``(task_id, actions)`` pairs; every action of one task in the same transaction.
        :return: Ids of the tasks whose actions were applied.
        """
        done: List[str] = []
        per_transaction = max(1, constants.TRANSACT_WRITE_LIMIT // max(len(a) for _, a in groups)) if groups else 1
        for batch in chunks(groups, per_transaction):
            pending = list(batch)
            for attempt in range(int(self.config["transaction_attempts"])):
                if not pending:
                    break
                actions = [action for _, group in pending for action in group]
                try:
                    self.dynamo_db_client.transact_write(*actions)
                except TransactionCancelled as err:
                    refused, position = set(), 0
                    for task_id, group in pending:
                        codes = err.reasons[position:position + len(group)]
                        position += len(group)
                        if "ConditionalCheckFailed" in codes:
                            refused.add(task_id)
                    self.stats["transaction_conflicts"] += 1
                    pending = [(task_id, group) for task_id, group in pending if task_id not in refused]
                    if refused:
                        self.stats["task_moves_refused"] += len(refused)
                        logger.info("left out %d tasks changed by someone else: %s", len(refused), sorted(refused))
                    else:
                        time.sleep(0.05 * (2 ** attempt) * (1 + random.random()))
                    continue
                done.extend(task_id for task_id, _ in pending)
                pending = []
            if pending:
                logger.warning("gave up on %d tasks after conflicts; they stay where they are", len(pending))
        return done

    def _meta_action(self, task_id: str, action: str, **kwargs: Any) -> List[Dict]:
        if not self._meta:
            return []
        return [self._meta.transaction_item(task_id, action, **kwargs)]

    # Invoking --------------------------------------------------------------------------------------------------

    def _invoked_actions(self, labourer: Labourer, task: Dict[str, Any], greenfield: int) -> List[Dict]:
        _ = self.get_db_field_name
        task_id = task[_("task_id")]
        condition = (Attr(_("greenfield")).eq(task[_("greenfield")])
                     & Attr(_("greenfield")).lt(labourer.get_attr("start"))
                     & Attr(_("completed_at")).not_exists())
        update = self.dynamo_db_client.make_update_transaction_item(
            {_("task_id"): task_id}, attributes_to_update={_("greenfield"): greenfield},
            attributes_to_increment={_("attempts"): 1}, table_name=self._tasks_table,
            condition_expression=condition)
        return [update] + self._meta_action(task_id, "invoked", labourer_id=str(labourer.id),
                                            attempt=int(task.get(_("attempts")) or 0) + 1)

    def is_valid_task(self, task: Dict[str, Any]) -> bool:
        """Whether ``task`` has the fields every task has: ``task_id``, ``labourer_id`` and ``created_at``.

        :param task: A task item.
        """
        _ = self.get_db_field_name
        return isinstance(task, dict) and all(_(field) in task for field in ("task_id", "labourer_id", "created_at"))

    def mark_task_invoked(self, labourer: Labourer, task: Dict[str, Any], check_running: Optional[bool] = True) -> None:
        """Set the task's greenfield to now + delta and count the attempt: one conditional UpdateItem (and one
        PutItem for the ``invoked`` event when the event log is on). The Orchestrator marks many tasks at once with
        :meth:`invoke_tasks` instead.

        :param labourer: The task's Labourer, registered for this run.
        :param task: The task item; its greenfield is updated in place.
        :param check_running: Only if the task is still queued (``greenfield < start``): so that concurrent
            Orchestrators never both invoke it. The condition also keeps a missing task from being created.
        :raises InvalidTask: (an ``AssertionError``) the task belongs to another Labourer.
        :raises ConditionCheckFailed: (botocore's ``ConditionalCheckFailedException``) the task is not queued any
            more; nothing changed.
        """
        _ = self.get_db_field_name
        if str(task.get(_("labourer_id"))) != str(labourer.id):
            raise InvalidTask(f"belongs to {task.get(_('labourer_id'))!r}, not to Labourer {labourer.id!r}",
                              field=_("labourer_id"), value=task.get(_("labourer_id")))
        greenfield = self.now() + self._delta
        self.dynamo_db_client.update(
            {_("task_id"): task[_("task_id")]}, attributes_to_update={_("greenfield"): greenfield},
            attributes_to_increment={_("attempts"): 1}, table_name=self._tasks_table,
            condition_expression=Attr(_("greenfield")).lt(labourer.get_attr("start")) if check_running else None)
        task[_("greenfield")] = greenfield
        if self._meta:
            self._meta.post(task[_("task_id")], "invoked", labourer_id=str(labourer.id),
                            attempt=int(task.get(_("attempts")) or 0) + 1)

    def _payload_for_invocation(self, task: Dict[str, Any]) -> bytes:
        _ = self.get_db_field_name
        payload = task.get(_("payload")) or {}
        if isinstance(payload, str):
            payload = json.loads(payload)
        return json.dumps({**payload, "task_id": task[_("task_id")]}).encode()

    def _invoke_lambda(self, labourer: Labourer, task: Dict[str, Any]) -> Optional[str]:
        """Invoke the Worker asynchronously; the error text if Lambda refused."""
        try:
            response = self.lambda_client.invoke(FunctionName=labourer.function_name, InvocationType="Event",
                                                 Payload=self._payload_for_invocation(task))
        except (ClientError, BotoCoreError) as err:
            return f"{type(err).__name__}: {err}"
        if not isinstance(response, dict):  # a test double of the client: nothing to check
            return None
        if response.get("StatusCode") not in (200, 202) or response.get("FunctionError"):
            return f"Lambda answered {response.get('StatusCode')} {response.get('FunctionError') or ''}".strip()
        return None

    def _undo_invoked(self, labourer: Labourer, task: Dict[str, Any], old_greenfield: Any, greenfield: int,
                      error: str) -> None:
        """Put a task whose invocation failed back where it was, unless something else changed it since."""
        _ = self.get_db_field_name
        task_id = task[_("task_id")]
        update = self.dynamo_db_client.make_update_transaction_item(
            {_("task_id"): task_id}, attributes_to_update={_("greenfield"): old_greenfield},
            attributes_to_increment={_("attempts"): -1}, table_name=self._tasks_table,
            condition_expression=Attr(_("greenfield")).eq(greenfield) & Attr(_("completed_at")).not_exists())
        meta = self._meta_action(task_id, "invoke_failed", labourer_id=str(labourer.id), error=error[:1000])
        if not self._transact_per_task([(task_id, [update] + meta)]):
            logger.warning("task %s: invocation failed and the task changed since; left as it is", task_id)

    def invoke_tasks(self, labourer: Labourer, tasks: List[Dict[str, Any]]) -> List[str]:
        """Mark queued tasks invoked (one transaction per up to 50 tasks, with their events) and invoke the Worker
        for each. A task another Orchestrator took is skipped. A task whose invocation Lambda refuses is put back
        in the queue as it was (its attempt not counted) and the others go on.

        :return: Ids of the tasks invoked.
        """
        if not tasks:
            return []
        _ = self.get_db_field_name
        greenfield = self.now() + self._delta
        by_id = {task[_("task_id")]: task for task in tasks}
        marked = self._transact_per_task([(task_id, self._invoked_actions(labourer, task, greenfield))
                                          for task_id, task in by_id.items()])
        threads = max(1, min(int(self.config["invoke_threads"]), len(marked)))
        with ThreadPoolExecutor(max_workers=threads) as pool:
            errors = list(pool.map(lambda task_id: self._invoke_lambda(labourer, by_id[task_id]), marked))
        invoked = []
        for task_id, error in zip(marked, errors):
            if error is None:
                invoked.append(task_id)
                continue
            self.stats["invocation_failures"] += 1
            logger.warning("invoking %s for task %s failed: %s; task put back in the queue", labourer.id, task_id,
                           error)
            self._undo_invoked(labourer, by_id[task_id], by_id[task_id][_("greenfield")], greenfield, error)
        self.stats["tasks_invoked"] += len(invoked)
        return invoked

    def invoke_task(self, labourer: Labourer, task_id: Optional[str] = None,
                    task: Optional[Dict[str, Any]] = None) -> bool:
        """Invoke the Worker for one task, given by id (fetched first: safer against injected tasks) or as an
        item: :meth:`is_valid_task`, then :meth:`mark_task_invoked`, then Lambda ``invoke``. A task that is not
        queued any more (another Orchestrator took it) is skipped without error. If Lambda refuses the invocation,
        the task is put back in the queue as it was.

        :param labourer: The task's Labourer, registered for this run.
        :param task_id: The task's id; or
        :param task: the task item.
        :return: Whether it was invoked.
        :raises ~sosw.exceptions.InvalidArgument: (an ``AttributeError``) both or neither of ``task_id`` and ``task``.
        :raises InvalidTask: (a ``ValueError``) no such task, or the item lacks required fields.
        """
        if bool(task_id) == bool(task):
            raise InvalidArgument("give exactly one of task_id and task", field="task_id")
        if task is None:
            task = self.get_task_by_id(task_id)
            if task is None:
                raise InvalidTask(f"task {task_id!r} not found in {self._tasks_table}", field="task_id", value=task_id)
        if not self.is_valid_task(task):
            raise InvalidTask("needs task_id, labourer_id and created_at", field="task", value=task)
        old_greenfield = task.get(self.get_db_field_name("greenfield"))
        try:
            self.mark_task_invoked(labourer, task)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            logger.info("task %s is not queued any more (invoked by a concurrent Orchestrator?); skipped",
                        task[self.get_db_field_name("task_id")])
            self.stats["concurrent_task_invocations_skipped"] += 1
            return False
        error = self._invoke_lambda(labourer, task)
        if error is not None:
            self.stats["invocation_failures"] += 1
            logger.warning("invoking %s for task %s failed: %s; task put back in the queue", labourer.id,
                           task[self.get_db_field_name("task_id")], error)
            self._undo_invoked(labourer, task, old_greenfield, task[self.get_db_field_name("greenfield")], error)
            return False
        self.stats["tasks_invoked"] += 1
        return True

    # Completion ------------------------------------------------------------------------------------------------

    def _max_expiry_window(self) -> int:
        windows = [lab.duration + lab.cooldown for lab in self.get_labourers()]
        return max(windows + [constants.DEFAULT_DURATION + constants.DEFAULT_COOLDOWN])

    def mark_task_as_completed(self, task_id: str, stats: Optional[Dict] = None,
                               result: Optional[Dict] = None) -> bool:
        """Set ``completed_at`` (and ``stat_<k>`` / ``result_<k>``) on a task that exists and is not completed.

        :return: True if marked now; False if it was already completed.
        :raises TaskNotFound: It is not in the tasks table (archived, moved to retry, or never was): nothing is
            written, so a late completion creates no orphan row.
        """
        return self.report_task(task_id, "completed", stats, result) == "completed"

    def mark_task_as_failed(self, task_id: str, stats: Optional[Dict] = None, result: Optional[Dict] = None) -> bool:
        """Record a failed attempt and make the task expired at once, so that the Scavenger retries it (or closes it
        as dead) at its next run instead of waiting for ``duration + cooldown``.

        :raises TaskNotFound: Like :meth:`mark_task_as_completed`.
        """
        return self.report_task(task_id, "failed", stats, result) == "failed"

    def report_task(self, task_id: str, outcome: str, stats: Optional[Dict] = None,
                    result: Optional[Dict] = None) -> str:
        """Record what a Worker reports about its task.

        :param outcome: ``'completed'`` or ``'failed'``.
        :return: ``outcome`` if recorded; ``'already_completed'``; or ``'unchanged'`` for a failure reported for a
            task that is back in the queue.
        :raises TaskNotFound: The task is not in the tasks table; nothing is written.
        """
        if outcome not in ("completed", "failed"):
            raise InvalidInput(f"expected 'completed' or 'failed', got {outcome!r}", field="outcome")
        _ = self.get_db_field_name
        now = self.now()
        attributes: Dict[str, Any] = {f"stat_{k}": v for k, v in (stats or {}).items() if v is not None}
        attributes.update({f"result_{k}": v for k, v in (result or {}).items() if v is not None})
        # Only a task that left the queue (its greenfield is above now) takes a report: a queued task marked
        # completed could never be invoked nor archived.
        condition = (Attr(_("task_id")).exists() & Attr(_("completed_at")).not_exists()
                     & Attr(_("greenfield")).gte(now))
        keys = {_("task_id"): task_id}
        if outcome == "completed":
            # The hottest write of a task's life: one conditional UpdateItem. Its 'completed' event is logged when
            # the task is archived, with the task's completed_at: that saves a call (or a transaction) per task.
            attributes[_("completed_at")] = now
            try:
                self.dynamo_db_client.update(keys, attributes_to_update=attributes, table_name=self._tasks_table,
                                             condition_expression=condition)
                return outcome
            except ConditionCheckFailed:
                pass
        else:
            # Below the expiry line of any Labourer at any later run, above every run's start for a year.
            attributes[_("greenfield")] = now + self._delta - self._max_expiry_window() - 1
            update = self.dynamo_db_client.make_update_transaction_item(
                keys, attributes_to_update=attributes, attributes_to_increment={_("failed_attempts"): 1},
                table_name=self._tasks_table, condition_expression=condition)
            if self._transact_per_task([(task_id, [update] + self._meta_action(task_id, "failed"))]):
                return outcome
        task = self.get_task_by_id(task_id)
        if task is None:
            raise TaskNotFound(task_id, self._tasks_table)
        if task.get(_("completed_at")) is not None:
            return "already_completed"
        if outcome == "completed" and task[_("greenfield")] < now and self._complete_queued_task(task, attributes):
            return outcome
        return "unchanged"

    def _complete_queued_task(self, task: Dict[str, Any], attributes: Dict[str, Any]) -> bool:
        """A completion that arrives after the task went back to the queue (expired and retried): the work is done,
        so close it rather than run it again. It leaves the queue as if invoked now, for the Scavenger to archive."""
        _ = self.get_db_field_name
        attributes = {**attributes, _("greenfield"): self.now() + self._delta}
        try:
            self.dynamo_db_client.update(
                {_("task_id"): task[_("task_id")]}, attributes_to_update=attributes, table_name=self._tasks_table,
                condition_expression=Attr(_("greenfield")).eq(task[_("greenfield")])
                & Attr(_("completed_at")).not_exists())
        except ConditionCheckFailed:
            return False
        self.stats["late_completions_of_queued_tasks"] += 1
        return True

    # Archiving and retrying ------------------------------------------------------------------------------------

    def _closed_item(self, task: Dict[str, Any], dead: bool) -> Dict[str, Any]:
        _ = self.get_db_field_name
        item = dict(task)
        item[_("closed_at")] = self.now()
        item[_("labourer_id_task_status")] = f"{task[_('labourer_id')]}_{0 if dead else 1}"
        return item

    def archive_many(self, tasks: List[Dict[str, Any]], dead: bool = False) -> List[str]:
        """Move tasks to ``sosw_closed_tasks`` as completed (``<labourer>_1``) or dead (``<labourer>_0``), each in a
        transaction that fails if another Essential moved or changed it first.

        :return: Ids of the tasks archived by this call.
        """
        _ = self.get_db_field_name
        groups = []
        for task in tasks:
            task_id = task[_("task_id")]
            if dead:
                condition = Attr(_("greenfield")).eq(task[_("greenfield")]) & Attr(_("completed_at")).not_exists()
            else:
                condition = Attr(_("completed_at")).exists()
            actions = [
                self.dynamo_db_client.make_put_transaction_item(
                    self._closed_item(task, dead), table_name=self._closed_table,
                    condition_expression=Attr(_("task_id")).not_exists()),
                self.dynamo_db_client.make_delete_transaction_item(
                    {_("task_id"): task_id}, table_name=self._tasks_table, condition_expression=condition),
            ]
            if task.get(_("completed_at")) is not None:
                actions += self._meta_action(task_id, "completed", completed_at=task[_("completed_at")],
                                             labourer_id=task[_("labourer_id")])
            actions += self._meta_action(task_id, "archived_dead" if dead else "archived",
                                         labourer_id=task[_("labourer_id")])
            groups.append((task_id, actions))
        archived = self._transact_per_task(groups)
        self.stats["tasks_archived_dead" if dead else "tasks_archived"] += len(archived)
        return archived

    def archive_task(self, task_id: str) -> bool:
        """Archive one task by id, whatever its state: as completed (``<labourer>_1``) if it has ``completed_at``,
        else as dead (``<labourer>_0``). One transaction (see :meth:`archive_many`).

        :param task_id: The task.
        :return: Whether this call archived it (False: it changed or moved meanwhile).
        :raises TaskNotFound: It is not in the tasks table.
        """
        task = self.get_task_by_id(task_id)
        if task is None:
            raise TaskNotFound(task_id, self._tasks_table)
        return bool(self.archive_many([task], dead=task.get(self.get_db_field_name("completed_at")) is None))

    def move_tasks_to_retry_table(self, tasks_with_delays: List[Tuple[Dict[str, Any], int]]) -> List[str]:
        """Move expired tasks to ``sosw_retry_tasks`` with ``desired_launch_time`` = now + their delay, each in a
        transaction that fails if the task changed (e.g. completed late) or was moved by someone else.

        :return: Ids of the tasks moved by this call.
        """
        _ = self.get_db_field_name
        now = self.now()
        groups = []
        for task, delay in tasks_with_delays:
            task_id = task[_("task_id")]
            item = {**task, _("desired_launch_time"): now + int(delay)}
            actions = [
                self.dynamo_db_client.make_put_transaction_item(
                    item, table_name=self._retry_table, condition_expression=Attr(_("task_id")).not_exists()),
                self.dynamo_db_client.make_delete_transaction_item(
                    {_("task_id"): task_id}, table_name=self._tasks_table,
                    condition_expression=Attr(_("greenfield")).eq(task[_("greenfield")])
                    & Attr(_("completed_at")).not_exists()),
            ] + self._meta_action(task_id, "moved_to_retry", labourer_id=task[_("labourer_id")], delay=int(delay))
            groups.append((task_id, actions))
        moved = self._transact_per_task(groups)
        self.stats["tasks_moved_to_retry"] += len(moved)
        return moved

    def move_task_to_retry_table(self, task: Dict[str, Any], wanted_delay: int) -> bool:
        """Move one expired task to ``sosw_retry_tasks`` to be retried after ``wanted_delay`` seconds."""
        return bool(self.move_tasks_to_retry_table([(task, wanted_delay)]))

    def _retry_actions(self, task: Dict[str, Any], labourer_id: str, greenfield: int) -> List[Dict]:
        """The transaction that moves a task from ``sosw_retry_tasks`` back to the queue at ``greenfield``."""
        _ = self.get_db_field_name
        task_id = task[_("task_id")]
        item = {k: v for k, v in task.items() if k != _("desired_launch_time")}
        item[_("greenfield")] = greenfield
        return [
            self.dynamo_db_client.make_put_transaction_item(
                item, table_name=self._tasks_table, condition_expression=Attr(_("task_id")).not_exists()),
            self.dynamo_db_client.make_delete_transaction_item(
                {_("labourer_id"): labourer_id, _("task_id"): task_id}, table_name=self._retry_table,
                condition_expression=Attr(_("task_id")).exists()),
        ] + self._meta_action(task_id, "retried", labourer_id=labourer_id)

    def retry_tasks(self, labourer: Labourer, tasks_list: List[Dict[str, Any]]) -> List[str]:
        """Return tasks from ``sosw_retry_tasks`` to the *head* of the queue (greenfields below the oldest queued
        one, in the order given), each in a transaction.

        :return: Ids of the tasks returned to the queue by this call.
        """
        if not tasks_list:
            return []
        _ = self.get_db_field_name
        oldest = self.get_oldest_greenfield_for_labourer(labourer)
        groups = [(task[_("task_id")], self._retry_actions(task, str(labourer.id),
                                                          oldest - self._step * (len(tasks_list) - position)))
                  for position, task in enumerate(tasks_list)]
        retried = self._transact_per_task(groups)
        self.stats["tasks_retried"] += len(retried)
        return retried

    def retry_task(self, task: Dict[str, Any], labourer_id: str, greenfield: int) -> bool:
        """Return one task from ``sosw_retry_tasks`` to the queue with the given ``greenfield`` (the Scavenger
        uses :meth:`retry_tasks`, which puts them at the head of the queue). One transaction.

        :param task: The item from ``sosw_retry_tasks``.
        :param labourer_id: Its Labourer.
        :param greenfield: Its place in the queue.
        :return: Whether this call moved it (False: someone else did first).
        :raises InvalidTask: (an ``AssertionError``) the task belongs to another Labourer.
        """
        _ = self.get_db_field_name
        if str(task.get(_("labourer_id"))) != str(labourer_id):
            raise InvalidTask(f"belongs to {task.get(_('labourer_id'))!r}, not to Labourer {labourer_id!r}",
                              field=_("labourer_id"), value=task.get(_("labourer_id")))
        retried = self._transact_per_task([(task[_("task_id")], self._retry_actions(task, str(labourer_id),
                                                                                   int(greenfield)))])
        self.stats["tasks_retried"] += len(retried)
        return bool(retried)
