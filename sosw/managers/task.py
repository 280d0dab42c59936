"""
TaskManager: every operation on tasks. The state of a task is its ``greenfield`` number compared with the
timestamps of the current run (see ``docs/greenfield.rst``):

- queued: ``greenfield < start``; new tasks join the end of the queue, retried ones its head;
- invoked/running: ``expired <= greenfield <= invoked`` and no ``completed_at``;
- expired: ``start <= greenfield < expired`` and no ``completed_at``;
- completed: ``completed_at`` set; the Scavenger archives it to ``sosw_closed_tasks``.

Every move of a task between tables is one DynamoDB transaction with conditions, so two Essentials racing on the
same task never both succeed; events of the task log travel in the same requests.

The TaskManager is the public face of private collaborators, each readable on its own: the greenfield rules
(``_greenfield.py``: what each change writes, as data, without I/O), the task store (``_task_store.py``: the tables,
batches, transactions and their retries), the write paths (``_task_moves.py``: rules, then store, then stats), the
Labourer registry (``_labourers.py``), the Worker invoker (``_invoker.py``) and the settings (``_settings.py``: the
config parsed once, at construction).

.. code-block:: python

    from sosw.managers.task import TaskManager

    task_manager = TaskManager(custom_config={'labourers': {'my_worker': {'max_simultaneous_invocations': 5}}})
    labourer = task_manager.get_labourer('my_worker')
    task_manager.create_tasks(labourer, [{'day': '2026-11-20'}, {'day': '2026-11-21'}])
    labourer = task_manager.register_labourers()[0]
    task_manager.invoke_tasks(labourer, task_manager.get_next_for_labourer(labourer, cnt=2))
"""

import logging
import time
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union, cast

from sosw import constants
from sosw.components._boto import make_client
from sosw.components.base import Component
from sosw.components.benchmark import benchmark
from sosw.components.dynamo_db import DynamoDbClient
from sosw.exceptions import InvalidArgument, InvalidTask, TaskNotFound
from sosw.labourer import Labourer
from sosw.managers import _greenfield as rules
from sosw.managers._claims import Attempt, ClaimStore
from sosw.managers._greenfield import MAX_PAYLOAD_BYTES  # noqa: F401 - re-exported: sosw.managers.task.MAX_PAYLOAD_BYTES
from sosw.managers._labourers import LabourerRegistry
from sosw.managers._settings import TASK_DEFAULT_CONFIG, TaskSettings
from sosw.managers._task_moves import TaskMoves
from sosw.managers._task_store import TaskStore
from sosw.managers.ecology import EcologyManager
from sosw.managers.meta_handler import MetaHandler

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

logger = logging.getLogger(__name__)

__all__ = ["TaskManager"]


class TaskManager(Component):
    """Handles all operations on tasks: creation, invocation, completion lookups, archiving, retries.

    :param custom_config: Config over ``DEFAULT_CONFIG`` (``task_config`` of an Essential): the tables, the
        ``labourers``, the greenfield arithmetic, ``max_attempts`` (and ``max_attempts_<labourer>``),
        ``meta_handler_config`` (turns on the event log), ``ecology_config``. Checked here, once.
    :param dynamo_db_client: The ``DynamoDbClient`` of the task tables; one from ``dynamo_db_config`` if None.
    :param lambda_client: boto3 Lambda client that invokes Workers; a new one if None.
    :param ecology_client: The ``EcologyManager``; one from ``ecology_config`` if None.
    :param meta_handler_client: The ``MetaHandler`` of the event log; one from ``meta_handler_config`` if None and
        that is configured, else no event log.
    :param test: Test mode.
    :raises ~sosw.exceptions.ConfigError: A malformed config value, naming ``task_config.<key>``.

    .. code-block:: python

        task_manager = TaskManager({'labourers': {'w': {}}}, dynamo_db_client=my_client, lambda_client=MagicMock())
        task_manager.lambda_client = another_client  # the collaborators stay plain attributes
    """

    #: Every config key with its default.
    DEFAULT_CONFIG: Dict[str, Any] = TASK_DEFAULT_CONFIG

    dynamo_db_client: Any = None
    lambda_client: Any = None
    ecology_client: Any = None
    meta_handler_client: Any = None

    def __init__(self, custom_config: Optional[Mapping[str, Any]] = None, *, dynamo_db_client: Any = None,
                 lambda_client: Optional["LambdaClient"] = None, ecology_client: Optional[EcologyManager] = None,
                 meta_handler_client: Optional[MetaHandler] = None, test: Optional[bool] = None,
                 **kwargs: Any) -> None:
        super().__init__(custom_config, test=test)
        #: The config, checked once: table names, field names, greenfield arithmetic, Labourers, limits.
        self.settings = TaskSettings.from_config(self.config)
        #: Attribute names of tasks in the tables.
        self.fields = self.settings.fields
        self.dynamo_db_client = dynamo_db_client if dynamo_db_client is not None else \
            DynamoDbClient(config=self.config["dynamo_db_config"], test=self.test)
        self.lambda_client = lambda_client if lambda_client is not None else make_client("lambda")
        self.ecology_client = ecology_client if ecology_client is not None else \
            EcologyManager(self.config.get("ecology_config"), task_client=self, test=self.test)
        if meta_handler_client is None and self.config.get("meta_handler_config"):
            meta_handler_client = MetaHandler(self.config["meta_handler_config"], test=self.test)
        self.meta_handler_client = meta_handler_client
        self._labourers = LabourerRegistry(self.settings)
        # The store asks for the client and the log at each call: both attributes may be reassigned.
        self._store = TaskStore(self.settings, client=lambda: self.dynamo_db_client, meta=lambda: self._meta,
                                stats=self.stats)
        self._moves = TaskMoves(self.settings, self._store, self.stats)

    @property
    def _meta(self) -> Any:
        """The MetaHandler when the event log is on, else None."""
        meta = self.meta_handler_client
        return meta if getattr(meta, "dynamo_db_client", None) is not None else None

    def get_db_field_name(self, key: str) -> str:
        """The attribute name used in the table for ``key`` (``dynamo_db_config.field_names`` may rename it)."""
        return self.fields.get(key)

    def now(self) -> int:
        """Current time in whole seconds; every timestamp of the state machine comes from here."""
        return int(time.time())

    # Labourers -------------------------------------------------------------------------------------------------

    def get_labourers(self) -> List[Labourer]:
        """Configured Labourers: ``config['labourers']`` is ``{'name_of_lambda': {'some_setting': 'value'}}``."""
        return self._labourers.labourers()

    def get_labourer(self, labourer_id: str) -> Labourer:
        """The configured Labourer named ``labourer_id`` (a name or a Lambda ARN), registered for this run.

        :raises LabourerNotFound: It is not in ``config['labourers']``.
        """
        return self._labourers.find(labourer_id, self.register_labourers(health=False))

    def register_labourers(self, health: bool = True) -> List[Labourer]:
        """Labourers stamped for this run: ``start`` (now), ``invoked`` (start + delta), ``expired`` (invoked −
        (duration + cooldown)), ``max_attempts``, ``max_duration`` (the function's timeout, from the
        EcologyManager) and, if ``health``, ``health`` from the EcologyManager. The EcologyManager gets this
        TaskManager again, which resets its caches of the previous run.

        :param health: Ask the EcologyManager for health (CloudWatch); the Scavenger does not need it.
        """
        if self.ecology_client is not None:
            self.ecology_client.register_task_manager(self)
        return self._labourers.register(start=self.now(), ecology=self.ecology_client, health=health)

    # Reading tasks ---------------------------------------------------------------------------------------------

    def _query(self, labourer: Labourer, value: Any, op: str, **kwargs: Any) -> Any:
        return self._store.query_greenfield(str(labourer.id), value, op, **kwargs)

    def get_task_by_id(self, task_id: str) -> Optional[Dict[str, Any]]:
        """The task (GetItem, strongly consistent), or None."""
        return self._store.get(task_id)

    def get_next_for_labourer(self, labourer: Labourer, cnt: int = 1,
                              only_ids: bool = False) -> List[Union[str, Dict]]:
        """The next ``cnt`` queued tasks of the Labourer, oldest greenfield first.

        :param only_ids: Return only the task ids.
        """
        if cnt <= 0:
            return []
        tasks = self._query(labourer, labourer.get_attr("start"), "<", max_items=cnt)
        return [t[self.fields.task_id] for t in tasks] if only_ids else tasks

    def get_oldest_greenfield_for_labourer(self, labourer: Labourer, reverse: bool = False) -> int:
        """Greenfield of the head of the queue (``reverse``: of its end); ``FIRST_GREENFIELD`` if it is empty.
        Queued means a greenfield below the current time (the Labourer needs no registration)."""
        tasks = self._query(labourer, self.now(), "<", max_items=1, desc=reverse)
        return int(tasks[0][self.fields.greenfield]) if tasks else constants.FIRST_GREENFIELD

    def get_newest_greenfield_for_labourer(self, labourer: Labourer) -> int:
        """Greenfield of the end of the queue (the latest added); ``FIRST_GREENFIELD`` if it is empty."""
        return self.get_oldest_greenfield_for_labourer(labourer, reverse=True)

    def get_length_of_queue_for_labourer(self, labourer: Labourer) -> int:
        """Number of queued tasks of the Labourer."""
        return cast(int, self._query(labourer, self.now(), "<", return_count=True))

    def get_invoked_tasks_for_labourer(self, labourer: Labourer,
                                       completed: Optional[bool] = None) -> List[Dict[str, Any]]:
        """Tasks of the Labourer invoked during the current run (``greenfield >= invoked``).

        :param completed: True: only completed ones; False: only not completed; None: all.
        """
        return self._query(labourer, labourer.get_attr("invoked"), ">=",
                           filter_expression=rules.completed_filter(self.fields, completed))

    def get_running_tasks_for_labourer(self, labourer: Labourer,
                                       count: bool = False) -> Union[List[Dict[str, Any]], int]:
        """Tasks invoked and neither completed nor expired (``greenfield >= expired``): assumed running.

        :param count: Return only their number (much cheaper).
        """
        return self._query(labourer, labourer.get_attr("expired"), ">=",
                           filter_expression=rules.completed_filter(self.fields, False), return_count=count)

    def get_count_of_running_tasks_for_labourer(self, labourer: Labourer) -> int:
        """Number of tasks assumed running."""
        return cast(int, self.get_running_tasks_for_labourer(labourer, count=True))

    def get_completed_tasks_for_labourer(self, labourer: Labourer) -> List[Dict[str, Any]]:
        """Tasks of the Labourer marked completed (also those completed after they expired)."""
        return self._query(labourer, labourer.get_attr("start"), ">=",
                           filter_expression=rules.completed_filter(self.fields, True))

    def get_expired_tasks_for_labourer(self, labourer: Labourer) -> List[Dict[str, Any]]:
        """Tasks invoked longer than ``duration + cooldown`` ago and not completed."""
        return self._query(labourer, (labourer.get_attr("start"), labourer.get_attr("expired") - 1), "between",
                           filter_expression=rules.completed_filter(self.fields, False))

    def get_tasks_in_flight_for_labourer(self, labourer: Labourer) -> Dict[str, List[Dict[str, Any]]]:
        """Every task of the Labourer that left the queue, sorted into ``completed``, ``expired`` and ``running``,
        with one query. The Scavenger's way to read what it needs."""
        return rules.sort_in_flight(self.fields, self._query(labourer, labourer.get_attr("start"), ">="),
                                    labourer.get_attr("expired"))

    def count_tasks_by_state(self, labourer: Labourer) -> Dict[str, int]:
        """Tasks of a registered Labourer by state: ``queued``, ``running``, ``expired``, ``completed`` (not yet
        archived), ``retrying`` (waiting in the retry table), ``closed`` (archived as completed) and ``dead``.
        Costs five queries; meant for dashboards and the ``sosw status`` command."""
        counts = {"queued": self.get_length_of_queue_for_labourer(labourer)}
        counts.update({state: len(tasks) for state, tasks in self.get_tasks_in_flight_for_labourer(labourer).items()})
        return {**counts, **self._store.count_closed_and_retrying(str(labourer.id))}

    def get_tasks_to_retry_for_labourer(self, labourer: Labourer, limit: Optional[int] = None) -> List[Dict]:
        """Tasks in ``sosw_retry_tasks`` whose ``desired_launch_time`` has come by the ``start`` of this run,
        earliest first.

        :param labourer: A registered Labourer.
        :param limit: At most this many.
        """
        return self._store.due_for_retry(str(labourer.id), labourer.get_attr("start"), limit)

    @benchmark
    def get_average_labourer_duration(self, labourer: Labourer, **kwargs: Any) -> int:
        """Average seconds per attempt over the Labourer's latest closed tasks (``max_closed_to_analyse_for_duration``
        of them, completed and dead). Lambda does not tell how long a failed attempt ran, so each attempt of a dead
        task counts as ``max_duration``. 0 when no task was closed yet. Costs two queries.

        :param labourer: The Labourer (registered, for its ``max_duration``).
        :param kwargs: Accepted for the original's signature (it took ``*a, **kw``); unused.
        """
        tasks = self._store.recently_closed(str(labourer.id), 1) + self._store.recently_closed(str(labourer.id), 0)
        try:
            max_duration = labourer.get_attr("max_duration")
        except AttributeError:
            max_duration = labourer.duration
        return rules.average_duration(self.fields, tasks, max_duration, self.settings.greenfield_invocation_delta,
                                      self.settings.max_closed_to_analyse_for_duration)

    def get_max_labourer_duration(self, labourer: Labourer) -> int:
        """Longest seconds among the Labourer's recent completed tasks; its ``duration`` if it has none. (The
        EcologyManager's method of that name gives the function's configured timeout instead.)"""
        longest = rules.longest_run(self.fields, self._store.recently_closed(str(labourer.id), 1),
                                    self.settings.greenfield_invocation_delta)
        return labourer.duration if longest is None else longest

    # Creating tasks --------------------------------------------------------------------------------------------

    def construct_payload_for_task(self, **kwargs: Any) -> str:
        """Combine the keyword arguments into one JSON payload; a ``payload`` argument (dict or JSON text) is the
        base the others are added to."""
        return rules.build_payload(**kwargs)

    def create_task(self, labourer: Labourer, strict: bool = True, **kwargs: Any) -> Dict[str, Any]:
        """Queue one task at the end of the Labourer's queue: one query for the end of the queue, one PutItem (and
        one for its ``created`` event when the event log is on). For many tasks use :meth:`create_tasks`.

        :param labourer: The Labourer to run it.
        :param strict: Forbid keyword arguments that name generated fields (``task_id``, ``greenfield``, ...) unless
            they equal the generated value; with False they are stored as given.
        :param kwargs: The payload (``payload=`` dict, plus any other arguments).
        :return: The task as written.
        """
        return self._moves.create_one(labourer, strict, kwargs, self.now(),
                                      lambda: self.get_newest_greenfield_for_labourer(labourer))

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
        return self._moves.create_many(labourer, payloads, task_ids, skip_existing, self.now(),
                                       lambda: self.get_newest_greenfield_for_labourer(labourer))

    # Invoking --------------------------------------------------------------------------------------------------

    def is_valid_task(self, task: Dict[str, Any]) -> bool:
        """Whether ``task`` has the fields every task has: ``task_id``, ``labourer_id`` and ``created_at``.

        :param task: A task item.
        """
        return rules.is_valid_task(self.fields, task)

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
        self._moves.mark_invoked(labourer, task, self.now(), bool(check_running))

    def invoke_tasks(self, labourer: Labourer, tasks: List[Dict[str, Any]], room: Optional[int] = None,
                     lease_owner: Optional[str] = None) -> List[str]:
        """Mark queued tasks invoked (transactions of up to 49 tasks with their events), then invoke the Worker for
        each, within ``max_simultaneous_invocations`` however many call this at once (under the Labourer's dispatch
        lease: ``docs/greenfield.rst``). A task another Orchestrator took is skipped; one whose invocation Lambda
        refuses is put back in the queue as it was (its attempt not counted). Returns the ids of the tasks invoked.

        :param room: For a caller that holds the dispatch lease as ``lease_owner`` and counted the running tasks
            under it (the kicked Orchestrator's session): at most this many are invoked, with no lease nor count of
            their own; each transaction checks that the lease is still ``lease_owner``'s.
        """
        return self._moves.invoke_many(labourer, tasks, self.now(), self.lambda_client,
                                       self.get_count_of_running_tasks_for_labourer, room, lease_owner) if tasks else []

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
            task = self.get_task_by_id(str(task_id))
            if task is None:
                raise InvalidTask(f"task {task_id!r} not found in {self.settings.tasks_table}", field="task_id",
                                  value=task_id)
        if not self.is_valid_task(task):
            raise InvalidTask("needs task_id, labourer_id and created_at", field="task", value=task)
        return self._moves.invoke_one(labourer, task, self.mark_task_invoked, self.lambda_client)

    def claim_task(self, task_id: str, attempt: int, greenfield: int) -> bool:
        """Claim the task for the run of attempt number ``attempt``, whose invocation wrote ``greenfield``, as the
        Worker's start guard does (see :class:`~sosw.worker.Worker`); True if this call claimed it."""
        return ClaimStore(lambda: self.dynamo_db_client, self.settings.tasks_table, self.fields).claim(
            Attempt(task_id, int(attempt), int(greenfield)), self.now())

    # Completion ------------------------------------------------------------------------------------------------

    def mark_task_as_completed(self, task_id: str, stats: Optional[Dict] = None,
                               result: Optional[Dict] = None) -> bool:
        """Close the task as completed (``completed_at``, ``stat_<k>``, ``result_<k>``) wherever it is: running,
        expired, queued, in the retry table, closed as dead (re-closed as ``<labourer>_1``). Once.

        :return: True if closed now; False if it was already completed.
        :raises TaskNotFound: It is in none of the tables (never was): nothing is written, no orphan row.
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

        :param outcome: ``'completed'`` (see :meth:`mark_task_as_completed`) or ``'failed'``.
        :return: ``outcome`` if recorded; ``'already_completed'``; or ``'unchanged'`` for a failure reported for a
            task that is back in the queue.
        :raises TaskNotFound: Not in the tasks table (a failure), in no table (a completion); nothing written.
        """
        return self._moves.report(task_id, outcome, stats, result, self.now(), self.get_labourers())

    # Archiving and retrying ------------------------------------------------------------------------------------

    def archive_many(self, tasks: List[Dict[str, Any]], dead: bool = False) -> List[str]:
        """Move tasks to ``sosw_closed_tasks`` as completed (``<labourer>_1``) or dead (``<labourer>_0``), each in a
        transaction that fails if another Essential moved or changed it first.

        :return: Ids of the tasks archived by this call.
        """
        return self._moves.archive(tasks, dead, self.now())

    def archive_task(self, task_id: str) -> bool:
        """Archive one task by id, whatever its state: as completed (``<labourer>_1``) if it has ``completed_at``,
        else as dead (``<labourer>_0``). One transaction (see :meth:`archive_many`).

        :param task_id: The task.
        :return: Whether this call archived it (False: it changed or moved meanwhile).
        :raises TaskNotFound: It is not in the tasks table.
        """
        task = self.get_task_by_id(task_id)
        if task is None:
            raise TaskNotFound(task_id, self.settings.tasks_table)
        return bool(self.archive_many([task], dead=task.get(self.fields.completed_at) is None))

    def move_tasks_to_retry_table(self, tasks_with_delays: List[Tuple[Dict[str, Any], int]]) -> List[str]:
        """Move expired tasks to ``sosw_retry_tasks`` with ``desired_launch_time`` = now + their delay, each in a
        transaction that fails if the task changed (e.g. completed late) or was moved by someone else.

        :return: Ids of the tasks moved by this call.
        """
        return self._moves.to_retry_table(tasks_with_delays, self.now())

    def move_task_to_retry_table(self, task: Dict[str, Any], wanted_delay: int) -> bool:
        """Move one expired task to ``sosw_retry_tasks`` to be retried after ``wanted_delay`` seconds."""
        return bool(self.move_tasks_to_retry_table([(task, wanted_delay)]))

    def retry_tasks(self, labourer: Labourer, tasks_list: List[Dict[str, Any]]) -> List[str]:
        """Return tasks from ``sosw_retry_tasks`` to the *head* of the queue (greenfields below the oldest queued
        one, in the order given), each in a transaction.

        :return: Ids of the tasks returned to the queue by this call.
        """
        if not tasks_list:
            return []
        return self._moves.requeue(rules.requeue_moves(self.fields, tasks_list, str(labourer.id),
                                                       self.get_oldest_greenfield_for_labourer(labourer),
                                                       self.settings.greenfield_task_step))

    def retry_task(self, task: Dict[str, Any], labourer_id: str, greenfield: int) -> bool:
        """Return one task from ``sosw_retry_tasks`` to the queue with the given ``greenfield`` (the Scavenger
        uses :meth:`retry_tasks`, which puts them at the head of the queue). One transaction.

        :param task: The item from ``sosw_retry_tasks``.
        :param labourer_id: Its Labourer.
        :param greenfield: Its place in the queue.
        :return: Whether this call moved it (False: someone else did first).
        :raises InvalidTask: (an ``AssertionError``) the task belongs to another Labourer.
        """
        rules.check_owner(self.fields, task, labourer_id)
        return bool(self._moves.requeue([rules.requeue_move(self.fields, task, str(labourer_id), int(greenfield))]))

