"""
Scheduler: the public entry point of sosw. An application, another Lambda or a scheduled rule invokes the
``sosw_scheduler`` Lambda with a *job*; the Scheduler chunks it into tasks for one Labourer and queues them in
``sosw_tasks``, where the Orchestrator picks them up.

The tutorial job (the ``task.json`` of ``examples/workers/sosw_tutorial_pull_tweeter_hashtags``), with
``job_schema = {'chunkable_attrs': ['topic', 'word']}``, becomes one task per (word, day), 36 in all:

.. code-block:: python

    {"job": {"lambda_name": "sosw_tutorial_pull_tweeter_hashtags",
             "topics": {"cars": {"words": ["toyota", "mazda", "nissan", "racing", "automobile", "car"]},
                        "food": {"words": ["recipe", "cooking", "eating", "food", "meal", "tasty"]},
                        "shows": {"words": ["opera", "cinema", "movie", "concert", "show", "musical"]}},
             "period": "last_2_days", "isolate_days": true, "isolate_words": true}}
    # -> {"topics": ["cars"], "words": ["toyota"], "date_list": ["2026-11-20"]}, ...

**Workflow.** The event (a dict or JSON text) holds the job under ``job``, or is the job. Its Labourer is
``lambda_name`` or ``labourer_id`` (a name or an ARN) and must be configured. The whole job is chunked and written to a
local JSON-lines *queue file* before anything is written to DynamoDB, so every error in the job comes first. Each line
is ``{"task_id": ..., "payload": {...}}``; the task id derives from the job id and the row number, so writing a row
again never makes a second task. Rows go to DynamoDB through ``TaskManager.create_tasks`` in batches of
``batch_size``, and leave the queue file only after their batch was written.

**Large jobs.** A job of more than one batch keeps its queue file in S3 (``queue_bucket``, prefix ``s3_prefix``) as
``locked_<job>.jsonl`` while a Scheduler works on it; after every batch the object's metadata records how many of its
rows are in DynamoDB (a server-side copy, no upload). When the remaining Lambda time drops below ``shutdown_period``
seconds, the Scheduler uploads the rows still to write as ``<job>.jsonl``, drops the lock and invokes a sibling of
itself with ``{"queue_file": "<s3_prefix><job>.jsonl"}``, which takes the lock and goes on. Every invocation writes
at least one batch, so a Lambda whose timeout is below ``shutdown_period`` still progresses.

**Crashes.** A Lambda retry carries the request id of the failed attempt, which is the job id (fresh jobs) or the lock
owner (siblings): the retry takes the queue over from S3 and writes the first batch after the checkpoint with
``skip_existing``, so rows written but not yet checkpointed are neither lost nor written twice. A single-batch job has
no S3 file; when it runs in Lambda its one batch is written with ``skip_existing`` for the same reason.

**Kicks.** Once an invocation has created tasks, the Scheduler kicks the Orchestrator for their Labourer (an
asynchronous invocation, see :mod:`sosw.components.kick`), so the first tasks start within seconds rather than at
the Orchestrator's next minute. ``kick_orchestrator: false`` turns it off. A kick that fails is logged and counted
(``kick_failures``); the job stands.

**Limits of the S3 lock.** Taking a queue file is a conditional ``PutObject`` (``If-None-Match: *``) of the locked key,
so of two Schedulers given the same file only one gets it; the other returns ``{'status': 'locked'}``. A lock is taken
over without condition by a retry of its owner or once it is older than ``queue_lock_timeout`` seconds (default 900,
the longest a Lambda runs); two Schedulers taking over the same stale lock at the same moment may both process it.
Even then task ids keep the table free of duplicates, but a task could be queued again after it was invoked. A
sibling invocation that Lambda gives up on leaves ``<job>.jsonl`` in S3; invoke the Scheduler with
``{"queue_file": ...}`` to finish it.

.. code-block:: python

    from sosw.app import LambdaGlobals, get_lambda_handler
    from sosw.scheduler import Scheduler

    global_vars = LambdaGlobals()
    lambda_handler = get_lambda_handler(Scheduler, global_vars)

The parts live in :mod:`sosw.scheduling`: settings, jobs, chunking, periods, the queue file, the S3 lock and the job
run of an invocation. The Scheduler wires them; its public methods delegate to them.
"""

import copy
import datetime  # users' tests patch ``sosw.scheduler.datetime`` (or its ``date``) to pin "today"
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import sosw.app
from sosw import constants
from sosw.components.kick import Kicker, kicker_for
from sosw.components.metrics import QUEUED, emit_counts
from sosw.essential import Essential
from sosw.exceptions import InvalidJob  # noqa: F401 - users import it from here, as from the original module
from sosw.scheduling import chunking, jobs, periods, queue_file
from sosw.scheduling.chunking import Chunker, JobSchema, plural, single_or_plural
from sosw.scheduling.job_run import JobRun, RunServices, has_time_left
from sosw.scheduling.queue_file import TASK_ID_NAMESPACE, QueueFile
from sosw.scheduling.settings import DEFAULT_CONFIG_NAME, SchedulerSettings

__all__ = ["Scheduler", "TASK_ID_NAMESPACE", "plural", "single_or_plural"]

#: The container's globals, the same object as ``sosw.app.global_vars`` (the original's tests set its context here).
global_vars = sosw.app.global_vars

#: Keys of a job that steer the Scheduler and are not copied into task payloads (besides the chunking flags).
CONTROL_KEYS = chunking.CONTROL_KEYS


class Scheduler(Essential):
    """Converts business jobs into Worker tasks, chunked by the rules of the job and the job schema.

    Its config (besides ``task_config``, the TaskManager's) is parsed once, at construction, into :attr:`settings`
    (:class:`~sosw.scheduling.settings.SchedulerSettings` lists the keys: ``job_schema``, ``job_schema_variants``,
    ``custom_period_patterns``, ``queue_bucket``, ``s3_prefix``, ``batch_size``, ``shutdown_period``,
    ``queue_lock_timeout``, ``queue_dir``); a malformed value raises ``ConfigError`` naming the config row and key.

    A job chunks its values by ``isolate_<attr>s: true`` (one task per value) and ``max_<attr>s_per_batch: N``; a
    ``period`` (see :meth:`get_dates_for_period`) or ``date_list`` becomes the payload's ``date_list``, chunked by
    ``isolate_days`` / ``max_days_per_batch``. A job that needs no chunking gives exactly one task. See the module
    documentation for the whole workflow.

    Each invocation's job is a :class:`~sosw.scheduling.job_run.JobRun`, the only holder of per-job state: nothing of
    a job outlives its invocation in a warm container.

    :param custom_config: Config merged over everything else.

    .. code-block:: python

        scheduler = Scheduler(custom_config={
            'queue_bucket': 'my-bucket',
            'job_schema': {'chunkable_attrs': ['topic', 'word']},
            'task_config': {'labourers': {'my_worker': {'max_simultaneous_invocations': 5}}},
        })
        scheduler({'job': {'lambda_name': 'my_worker', 'words': ['a', 'b'], 'isolate_words': True}})
        # {'status': 'done', 'tasks_created': 2, 'job_id': '...', 'queue_file': None}
    """

    DEFAULT_CONFIG = {
        "init_clients": ["Task", "s3", "Siblings"],
        # The Scheduler only appends to queues: it needs no Labourer durations, so it reads no Lambda timeouts.
        "task_config": {"read_labourer_timeout": False},
        "queue_bucket": None,
        "s3_prefix": constants.SCHEDULER_QUEUE_PREFIX,
        "queue_dir": None,
        "batch_size": 500,
        "shutdown_period": 60,
        "queue_lock_timeout": 900,
        "job_schema": {"chunkable_attrs": []},
        "job_schema_variants": {},
    }

    s3_client: Any = None
    siblings_client: Any = None
    #: Not used by the Scheduler; kept (and assignable) because the original had it, and tests assign mocks to it.
    sns_client: Any = None
    #: The original's placeholder, never used by it either; kept so code that reads or assigns it works.
    base_query: Any = ...

    def __init__(self, custom_config: Optional[Dict] = None, **kwargs: Any):
        super().__init__(custom_config=custom_config, **kwargs)
        function_name = os.environ.get(constants.ENV_FUNCTION_NAME)
        #: The config, parsed: see :class:`~sosw.scheduling.settings.SchedulerSettings`.
        self.settings = SchedulerSettings.from_config(
            self.config, f"{function_name}_config" if function_name else DEFAULT_CONFIG_NAME)
        #: Kicks the Orchestrator once a job's tasks are created (config ``kick_orchestrator``,
        #: ``sosw_orchestrator_lambda``, ``kick_debounce_seconds``): see :mod:`sosw.components.kick`.
        self.kicker: Kicker = kicker_for(self, self.settings.config_name)
        #: Singular names of the attributes the job schema in use chunks, outermost first (set by
        #: :meth:`initialize_from_job_schema`; assign a list of names to chunk by others).
        self.chunkable_attrs: List[str] = []
        # The job of the current invocation, replaced by every invocation (and by set_queue_file).
        self._run = JobRun(self._queue_file(None))
        self._configured_period_patterns()
        self.initialize_from_job_schema()

    def __call__(self, event: Union[Dict, str, bytes], reset_result: bool = True) -> Dict[str, Any]:
        """Schedule a job, or go on with a queue file in S3.

        :param event: A job (``{'job': {...}}`` or the job itself, a dict or JSON text), or ``{'queue_file': key}``
            to resume the queue file ``key`` in ``queue_bucket``.
        :param reset_result: As for :meth:`sosw.app.Processor.__call__`.
        :return: ``{'status': ..., 'tasks_created': n, 'job_id': ..., 'queue_file': key or None}``. Status
            ``done``; ``continued_in_sibling`` (time ran short, a sibling goes on with ``queue_file``); ``locked``
            (another Scheduler works on this queue file); ``not_found`` (no such queue file, e.g. it is finished).
        :raises InvalidJob: The job is malformed (``field`` names what); nothing was written.
        :raises LabourerNotFound: The Labourer of the job is not configured; nothing was written.

        .. code-block:: python

            scheduler('{"lambda_name": "my_worker", "period": "last_3_days", "isolate_days": true}')
            # {'status': 'done', 'tasks_created': 3, ...}
        """
        payload = jobs.json_object(event, "event")
        self._run = JobRun.for_request(getattr(self._context, "aws_request_id", None), self._queue_file(None))
        if payload.get("queue_file") is not None:
            self.set_queue_file(queue_file.name_from_key(payload["queue_file"], self.settings.s3_prefix))
        else:
            job = self.extract_job_from_payload(payload)
            self.set_queue_file(f"{self._run.owner}.jsonl")
            self.parse_job_to_file(job)
        result = self.process_file()
        if result.get("tasks_created"):
            # The tasks start within seconds instead of at the Orchestrator's next minute (sosw.components.kick).
            self.kicker.kick(self._run.labourer_id, debounce=False)
        emit_counts(self.config, {self._run.labourer_id: {QUEUED: result["tasks_created"]}}, self.settings.config_name)
        super().__call__(event, reset_result=reset_result)
        return result

    @property
    def _context(self) -> Any:
        # The module-level name, looked up now: tests set or patch ``sosw.scheduler.global_vars``.
        return self.lambda_context or global_vars.lambda_context

    def extract_job_from_payload(self, event: Union[Dict, str, bytes]) -> Dict:
        """The job of an event, with its Labourer as ``lambda_name`` (see :func:`sosw.scheduling.jobs.extract_job`).

        :raises InvalidJob: Not a JSON object, or no Labourer named.

        .. code-block:: python

            scheduler.extract_job_from_payload('{"lambda_name": "w", "job": {"words": ["a"]}}')
            # {'words': ['a'], 'lambda_name': 'w'}
        """
        return jobs.extract_job(event)

    # Job schema ------------------------------------------------------------------------------------------------

    def initialize_from_job_schema(self) -> None:
        """Set :attr:`chunkable_attrs` from ``config['job_schema']``, the schema in use.

        :raises SchedulerConfigError: The schema is malformed.

        .. code-block:: python

            scheduler.config['job_schema'] = {'chunkable_attrs': ['topic', 'word']}
            scheduler.initialize_from_job_schema()  # scheduler.chunkable_attrs == ['topic', 'word']
        """
        schema = JobSchema.from_config(self.config.get("job_schema") or {}, f"{self.settings.config_name}.job_schema")
        self.chunkable_attrs = list(schema.chunkable_attrs)

    def apply_job_schema(self, name: Optional[str] = None) -> None:
        """Make the job schema variant ``name`` (``default`` if None) the ``config['job_schema']`` in use. The
        :attr:`chunkable_attrs` are set again only when the schema changes, so names you assigned stay while the
        schema does. :meth:`construct_job_data` applies the schema of each job's ``job_schema_name``.

        :param name: A key of ``config['job_schema_variants']`` (as parsed at construction).
        :raises UnknownJobSchema: No such variant (``field`` is ``job_schema_name``).
        """
        schema = self.settings.job_schema_variant(name)
        if self.config.get("job_schema") != schema.source:
            self.config["job_schema"] = copy.deepcopy(dict(schema.source))
            self.initialize_from_job_schema()

    # Chunking: see sosw.scheduling.chunking --------------------------------------------------------------------

    def construct_job_data(self, job: Dict, skeleton: Optional[Dict] = None) -> List[Dict]:
        """Chunk a job into task payloads with the job schema of its ``job_schema_name``: dates first
        (:meth:`chunk_dates`), then the chunkable attributes (:meth:`chunk_job`). Control keys of the job
        (``period``, ``lambda_name``, ``labourer_id``, ``job_schema_name``, the flags) are not copied into payloads.

        :param skeleton: Attributes every payload gets as given (they win over the job's).
        :raises InvalidJob: Naming the field at fault.

        .. code-block:: python

            scheduler.construct_job_data({'lambda_name': 'w', 'words': ['a', 'b'], 'isolate_words': True},
                                         skeleton={'labourer_id': 'w'})
            # [{'words': ['a'], 'labourer_id': 'w'}, {'words': ['b'], 'labourer_id': 'w'}]   (chunkable_attrs ['word'])
        """
        self.apply_job_schema(job.get("job_schema_name"))
        tasks = [task for dated in self.chunk_dates(job) for task in self.chunk_job(dated)]
        return chunking.clean_payloads(tasks, self.chunkable_attrs, skeleton)

    def chunk_dates(self, job: Dict, skeleton: Optional[Dict] = None) -> List[Dict]:
        """Expand ``period`` (by :meth:`get_dates_for_period`) or check ``date_list``, then chunk the dates (see
        :func:`sosw.scheduling.chunking.chunk_dates`).

        .. code-block:: python

            scheduler.chunk_dates({'period': 'last_2_days', 'max_days_per_batch': 1, 'a': 1})
            # [{'a': 1, 'date_list': ['2026-11-20']}, {'a': 1, 'date_list': ['2026-11-21']}]   (today 2026-11-22)
        """
        return chunking.chunk_dates(job, self.get_dates_for_period, skeleton)

    def chunk_job(self, job: Dict, skeleton: Optional[Dict] = None, attr: Optional[str] = None) -> List[Dict]:
        """Recursively chunk a job along :attr:`chunkable_attrs` from ``attr`` on (the first if omitted); see
        :meth:`sosw.scheduling.chunking.Chunker.chunk_job`.

        .. code-block:: python

            scheduler.chunk_job({'topics': {'cars': {'words': ['toyota', 'mazda']}}, 'isolate_words': True})
            # [{'isolate_words': True, 'topics': ['cars'], 'words': ['toyota']},
            #  {'isolate_words': True, 'topics': ['cars'], 'words': ['mazda']}]   (chunkable_attrs ['topic', 'word'])
        """
        return Chunker(self.chunkable_attrs).chunk_job(job, skeleton, attr)

    def needs_chunking(self, attr: str, data: Dict) -> bool:
        """Whether chunking ``data`` from the level of ``attr`` (singular or plural) on gives more than the data as
        it is; see :meth:`sosw.scheduling.chunking.Chunker.needs_chunking`."""
        return Chunker(self.chunkable_attrs).needs_chunking(attr, data)

    def get_next_chunkable_attr(self, attr: str) -> Optional[str]:
        """The chunkable attribute after ``attr`` (singular or plural); None after the last or for an unknown one."""
        return Chunker(self.chunkable_attrs).next_attr(attr)

    @staticmethod
    def get_isolate_attributes_from_job(data: Dict) -> Dict:
        """The chunking flags of ``data``: its ``isolate_*`` and ``max_*_per_batch`` items."""
        return chunking.isolate_attributes(data)

    @staticmethod
    def validate_list_of_vals(data: Union[list, set, tuple, Dict]) -> list:
        """The values of a chunkable attribute as a list; see :func:`sosw.scheduling.chunking.validate_list_of_vals`.
        """
        return chunking.validate_list_of_vals(data)

    @staticmethod
    def get_index_from_list(attr: str, data: Sequence[str]) -> int:
        """Index of ``attr`` in ``data``, ignoring a trailing ``s`` on either side; ``ValueError`` if not there."""
        return chunking.get_index_from_list(attr, data)

    # Periods: see sosw.scheduling.periods ----------------------------------------------------------------------

    def today_date(self) -> datetime.date:
        """Today, the date every period counts from: ``datetime.date.today()`` (UTC in Lambda), looked up at every
        call, so tests may patch ``sosw.scheduler.datetime``, or replace this method."""
        return datetime.date.today()

    def custom_period_patterns(self) -> List[Tuple[str, periods.PeriodMethod]]:
        """Periods of your own, tried before the built-in ones: ``(regular expression, method)`` pairs. The
        expression must match the whole period; the method gets the period and returns dates as ``YYYY-MM-DD``.

        By default the pairs come from ``config['custom_period_patterns']``, a list of regular expressions named as
        the original named them (see :func:`sosw.scheduling.periods.bind_period_methods`): ``'last_[0-9]+_weeks'``
        calls the method ``last_x_weeks``.

        .. code-block:: python

            class MyScheduler(Scheduler):
                def custom_period_patterns(self):
                    return [(r'last_(\\d+)_weeks', self.last_x_weeks)]

                def last_x_weeks(self, pattern):
                    return self.last_x_days(f'last_{7 * int(pattern.split("_")[1])}_days')
        """
        return self._configured_period_patterns()

    def _configured_period_patterns(self) -> List[Tuple[str, periods.PeriodMethod]]:
        return periods.bind_period_methods(self.settings.custom_period_patterns, self,
                                           f"{self.settings.config_name}.custom_period_patterns")

    def get_dates_for_period(self, period: str) -> List[str]:
        """The dates of ``period`` as ``YYYY-MM-DD`` strings, from :meth:`custom_period_patterns` or the built-in
        periods ``today``, ``yesterday``, ``N_days_back``, ``last_N_days``, ``previous_N_days``, ``last_week``,
        ``previous_week``: each expanded by the method of that name below, which a subclass may override.

        :raises InvalidJob: An unknown period (``field`` is ``period``).

        .. code-block:: python

            scheduler.get_dates_for_period('last_2_days')  # ['2026-11-20', '2026-11-21']   (today 2026-11-22)
        """
        built_in = [(regex, getattr(self, name)) for regex, name in periods.BUILT_IN_PERIODS]
        return periods.dates_for_period(period, self.custom_period_patterns(), built_in)

    def _calendar(self) -> periods.Calendar:
        return periods.Calendar(self.today_date())

    def today(self, pattern: str = "today") -> List[str]:
        """``[today]``: ``['2026-11-22']`` on 2026-11-22."""
        return self._calendar().today(pattern)

    def yesterday(self, pattern: str = "yesterday") -> List[str]:
        """``[today - 1]``: ``['2026-11-21']`` on 2026-11-22."""
        return self._calendar().yesterday(pattern)

    def x_days_back(self, pattern: str) -> List[str]:
        """``N_days_back``, ``[today - N]``: ``7_days_back`` is ``['2026-11-15']`` on 2026-11-22."""
        return self._calendar().x_days_back(pattern)

    def last_x_days(self, pattern: str) -> List[str]:
        """``last_N_days``, ``today - N`` ... ``today - 1``: ``last_2_days`` is ``['2026-11-20', '2026-11-21']`` on
        2026-11-22."""
        return self._calendar().last_x_days(pattern)

    def previous_x_days(self, pattern: str) -> List[str]:
        """``previous_N_days``, the N days before the last N, ``today - 2N`` ... ``today - N - 1``:
        ``previous_2_days`` is ``['2019-04-26', '2019-04-27']`` on 2019-04-30."""
        return self._calendar().previous_x_days(pattern)

    def last_week(self, pattern: str = "last_week") -> List[str]:
        """The last full week, Sunday to Saturday: ``2026-11-15`` ... ``2026-11-21`` on Sunday 2026-11-22."""
        return self._calendar().last_week(pattern)

    def previous_week(self, pattern: str = "previous_week") -> List[str]:
        """The full week before :meth:`last_week`: ``2026-11-08`` ... ``2026-11-14`` on Sunday 2026-11-22."""
        return self._calendar().previous_week(pattern)

    # The queue file: see sosw.scheduling.queue_file ------------------------------------------------------------

    @property
    def batch_size(self) -> int:
        """Rows written per ``create_tasks`` call, ``config['batch_size']``."""
        return self.settings.batch_size

    def _queue_file(self, name: Optional[str]) -> QueueFile:
        return QueueFile.new(name, self.settings.local_dir, self.settings.s3_prefix)

    def set_queue_file(self, name: Optional[str] = None) -> None:
        """Start with the queue file ``name`` (``<queue_dir>/<name>``, in S3 ``<s3_prefix><name>``), the job state
        afresh. The job id is the name without its ``.jsonl`` suffix.

        :param name: File name; a new unique one if omitted, so a warm container never reuses an earlier job's file.
        """
        self._run = self._run.restart(self._queue_file(name))

    @property
    def job_id(self) -> str:
        """Id of the current job: task ids derive from it."""
        return self._run.job_id

    @property
    def local_queue_file(self) -> str:
        """Local path of the queue file: ``<queue_dir>/<name>``."""
        return self._run.queue.local_path

    @property
    def remote_queue_file(self) -> str:
        """S3 key of the queue file while no Scheduler works on it."""
        return self._run.queue.remote_key

    @property
    def remote_queue_locked_file(self) -> str:
        """S3 key of the queue file while a Scheduler works on it: no other may touch it."""
        return self._run.queue.locked_key

    def task_id(self, row: int) -> str:
        """The task id of row ``row`` of the current job: the same for every attempt to write it."""
        return self._run.task_id(row)

    def parse_job_to_file(self, job: Dict) -> int:
        """Chunk the whole job (by :meth:`construct_job_data`) into :attr:`local_queue_file`, one
        ``{"task_id", "payload"}`` JSON line per task, all validated first: an invalid job writes nothing.

        :return: The number of rows (tasks).
        :raises InvalidJob: Naming the field at fault.
        :raises LabourerNotFound: The job's Labourer is not configured.

        .. code-block:: python

            scheduler.set_queue_file()
            scheduler.parse_job_to_file({'lambda_name': 'my_worker', 'period': 'today'})  # 1
        """
        return self._run.parse(job, self.construct_job_data, self._services())

    @staticmethod
    def pop_rows_from_file(file_name: str, rows: Optional[int] = 1) -> List[str]:
        """Read ``rows`` rows from the top of a file and remove them from it; a file left empty is deleted.

        :return: The rows, without their line ends; ``[]`` if there is no such file.
        """
        return queue_file.pop_rows_from_file(file_name, rows)

    def clean_tmp(self, file_name: Optional[str] = None) -> None:
        """Delete a local file, :attr:`local_queue_file` if omitted, if it exists."""
        queue_file.remove(file_name or self.local_queue_file)

    # S3 and processing: see sosw.scheduling.job_run and sosw.scheduling.s3_lock -----------------------------------

    def _services(self) -> RunServices:
        """What the job run uses: the clients as they are now (tests assign mocks after construction)."""
        return RunServices(task_client=self.task_client, s3_client=self.s3_client, siblings_client=self.siblings_client,
                           settings=self.settings, stats=self.stats, context=self._context,
                           time_left=lambda: self.sufficient_execution_time_left,
                           lock_queue_file=self.get_and_lock_queue_file,
                           unlock_queue_file=self.upload_and_unlock_queue_file)

    def get_and_lock_queue_file(self) -> Optional[str]:
        """Lock the queue file of the current job in S3 (as :attr:`remote_queue_locked_file`) and have it locally:
        a job parsed here is uploaded locked; otherwise (or in a Lambda retry) it is taken from S3, if its lock may
        be taken over (see :meth:`sosw.scheduling.job_run.JobRun.lock`).

        :return: The local path, or None: another Scheduler holds the lock, or there is no such file in S3.
        :raises ConfigError: ``queue_bucket`` is not configured.
        """
        return self._run.lock(self._services())

    def upload_and_unlock_queue_file(self) -> None:
        """Upload the local queue file (the rows still to write) as :attr:`remote_queue_file`, then remove the locked
        copy. The upload comes first, so the rows are in S3 at every moment."""
        self._run.unlock(self._services())

    @property
    def sufficient_execution_time_left(self) -> bool:
        """Whether the Lambda has more than ``shutdown_period`` seconds left; always True without a Lambda context."""
        return has_time_left(self._context, self.settings.shutdown_period)

    def process_file(self) -> Dict[str, Any]:
        """Write the rows of the queue file as tasks, a batch at a time (see
        :meth:`sosw.scheduling.job_run.JobRun.process`).

        :return: As calling the Scheduler returns (see ``__call__``).
        """
        return self._run.process(self._services())
