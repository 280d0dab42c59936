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
"""

import copy
import datetime  # users' tests patch ``sosw.scheduler.datetime`` (or its ``date``) to pin "today"
import inspect
import io
import itertools
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from datetime import date, timedelta
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from botocore.exceptions import ClientError

import sosw.app
from sosw import constants
from sosw.components.helpers import chunks, to_bool, trim_arn_to_name
from sosw.essential import Essential
from sosw.exceptions import (
    ConfigError,
    InvalidEvent,
    InvalidInput,
    InvalidJob,
    LabourerNotFound,
    SchedulerConfigError,
    UnknownJobSchema,
)
from sosw.labourer import Labourer

logger = logging.getLogger(__name__)

__all__ = ["Scheduler", "TASK_ID_NAMESPACE", "plural", "single_or_plural"]

#: The container's globals, the same object as ``sosw.app.global_vars`` (the original's tests set its context here).
global_vars = sosw.app.global_vars

#: Namespace of the task ids derived from a job id and a row number (uuid5).
TASK_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/sosw/sosw/scheduler")

#: Keys of a job that steer the Scheduler and are not copied into task payloads (besides the chunking flags).
CONTROL_KEYS = frozenset({"period", "lambda_name", "labourer_id", "job_schema_name"})
# Keys that chunk_dates consumes.
_DATE_KEYS = frozenset({"period", "date_list", "isolate_days", "max_days_per_batch"})

_FLAG = re.compile(r"isolate_(?P<isolate>\w+)|max_(?P<max>\w+)_per_batch")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SCALARS = (str, int, float)
_ATTR_NAME = re.compile(r"[A-Za-z_]\w*")
_QUEUE_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_ID = re.compile(r"[A-Za-z0-9_-]+")

#: Built-in periods: (regular expression matched in full, name of the method that expands it).
_PERIODS: Tuple[Tuple[str, str], ...] = (
    (r"today", "today"),
    (r"yesterday", "yesterday"),
    (r"(\d+)_days?_back", "x_days_back"),
    (r"last_(\d+)_days?", "last_x_days"),
    (r"previous_(\d+)_days?", "previous_x_days"),
    (r"last_week", "last_week"),
    (r"previous_week", "previous_week"),
)
_PERIOD_REGEX = {name: regex for regex, name in _PERIODS}
_PERIOD_NAMES = "today, yesterday, N_days_back, last_N_days, previous_N_days, last_week, previous_week"

# S3 user metadata of queue files (boto3 returns the keys in lower case).
_META_OWNER = "owner"
_META_LABOURER = "labourer-id"
_META_JOB = "job-id"
_META_ROWS_DONE = "rows-done"

# Outcomes of taking a queue file from S3.
_TAKEN, _LOCKED, _MISSING = "taken", "locked", "not_found"


def single_or_plural(attr: str) -> List[str]:
    """The names an attribute may have in a job: ``attr`` as given, without its trailing ``s`` and with one more.

    .. code-block:: python

        single_or_plural('word')  # ['word', 'words']
    """
    return sorted({attr, attr.rstrip("s"), f"{attr}s"})


def plural(attr: str) -> str:
    """The plural of an attribute name: without its trailing ``s``, plus one ``s``.

    .. code-block:: python

        plural('word')  # 'words'
        plural('words')  # 'words'
    """
    return f"{attr.rstrip('s')}s"


def _json_object(value: Any, field: str) -> Dict:
    """``value`` as a dict: a dict as it is, JSON object text decoded."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as err:
            raise InvalidJob(f"not valid JSON ({err})", field=field) from None
    if not isinstance(value, dict):
        raise InvalidJob(f"expected a JSON object, got {type(value).__name__}", field=field, value=value)
    return value


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


def _is_precondition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict")


class Scheduler(Essential):
    """Converts business jobs into Worker tasks, chunked by the rules of the job and the job schema.

    Config (besides ``task_config``, the TaskManager's):

    - ``job_schema``: ``{'chunkable_attrs': ['topic', 'word']}``, the singular names of the attributes that may be
      chunked, outermost first. The original's ``[('topic', {}), ...]`` pairs are accepted too.
    - ``job_schema_variants``: ``{name: job_schema}``; a job with ``job_schema_name`` uses that schema instead, a job
      without one the ``default`` variant (``job_schema`` when there is no ``default``). See :meth:`apply_job_schema`.
    - ``custom_period_patterns``: periods of your own, as the original named them (see :meth:`custom_period_patterns`).
    - ``queue_bucket``: S3 bucket of the queue files of large jobs (required for jobs of more than one batch).
    - ``s3_prefix``: key prefix of the queue files, default ``sosw/scheduler/``.
    - ``batch_size``: rows written per ``create_tasks`` call (BatchWriteItem 25 at a time inside), default 500.
    - ``shutdown_period``: seconds of Lambda time to keep for handing the rest of a job to a sibling, default 60.
    - ``queue_lock_timeout``: seconds after which a lock on a queue file may be taken over, default 900.
    - ``queue_dir``: local directory of queue files, default the system's temporary directory (``/tmp``).

    A job (see the module documentation for the whole workflow):

    - ``isolate_<attr>s: true``: one task per value of ``<attr>``; ``max_<attr>s_per_batch: N``: values in batches
      of N. Values are a list of strings or numbers, a dict whose values are None (its keys are the values), a single
      value under the singular key (``word: 'car'``), or a dict of nested payloads, one per key, in which the next
      chunkable attribute may appear. Flags apply at their level and below; a nested payload may override them.
    - ``period`` (see :meth:`today`, :meth:`last_x_days`, ...) or an explicit ``date_list`` become the payload's
      ``date_list``; ``isolate_days`` / ``max_days_per_batch`` chunk it.
    - Attributes that need no chunking stay as given. A job that needs no chunking gives exactly one task.

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

    DEFAULT_CONFIG: Dict[str, Any] = {
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
        #: Singular names of the attributes the job schema in use chunks, outermost first (set by
        #: :meth:`initialize_from_job_schema`; assign a list of names to chunk by others).
        self.chunkable_attrs: List[str] = []
        self._owner = uuid.uuid4().hex
        self._retry_possible = False
        self.set_queue_file()
        self._validate_job_schemas()
        self._configured_period_patterns()
        self.initialize_from_job_schema()

    # The Lambda entry ------------------------------------------------------------------------------------------

    def __call__(self, event: Union[Dict, str, bytes]) -> Dict[str, Any]:
        """Schedule a job, or go on with a queue file in S3.

        :param event: A job (``{'job': {...}}`` or the job itself, a dict or JSON text), or ``{'queue_file': key}``
            to resume the queue file ``key`` in ``queue_bucket``.
        :return: ``{'status': ..., 'tasks_created': n, 'job_id': ..., 'queue_file': key or None}``. Status
            ``done``; ``continued_in_sibling`` (time ran short, a sibling goes on with ``queue_file``); ``locked``
            (another Scheduler works on this queue file); ``not_found`` (no such queue file, e.g. it is finished).
        :raises InvalidJob: The job is malformed (``field`` names what); nothing was written.
        :raises LabourerNotFound: The Labourer of the job is not configured; nothing was written.

        .. code-block:: python

            scheduler('{"lambda_name": "my_worker", "period": "last_3_days", "isolate_days": true}')
            # {'status': 'done', 'tasks_created': 3, ...}
        """
        payload = _json_object(event, "event")
        context = self._context
        request_id = getattr(context, "aws_request_id", None)
        # A Lambda retry carries the request id of the failed attempt: it names the job (or the lock) to take over.
        self._retry_possible = isinstance(request_id, str) and bool(request_id)
        if not self._retry_possible:
            self._owner = uuid.uuid4().hex
        elif _ID.fullmatch(request_id):
            self._owner = request_id
        else:  # it names S3 keys and metadata: keep to safe characters, the same ones for every retry
            self._owner = uuid.uuid5(TASK_ID_NAMESPACE, request_id).hex
        if payload.get("queue_file") is not None:
            self.set_queue_file(self._queue_file_name_from_key(payload["queue_file"]))
        else:
            job = self.extract_job_from_payload(payload)
            self.set_queue_file(f"{self._owner}.jsonl")
            self.parse_job_to_file(job)
        result = self.process_file()
        super().__call__(event)
        return result

    def extract_job_from_payload(self, event: Union[Dict, str, bytes]) -> Dict:
        """The job of an event: ``event['job']`` if present, else the event itself; each may be JSON text.

        The Labourer is the job's ``lambda_name`` or ``labourer_id``, else the event's; it is set as the job's
        ``lambda_name`` when the job has neither. An ARN in ``lambda_name`` is trimmed to the function name.

        :param event: The Lambda event.
        :return: The job as a new dict.
        :raises InvalidJob: Not a JSON object, or no Labourer named.

        .. code-block:: python

            scheduler.extract_job_from_payload('{"lambda_name": "w", "job": {"words": ["a"]}}')
            # {'words': ['a'], 'lambda_name': 'w'}
            scheduler.extract_job_from_payload({'lambda_name': 'arn:aws:lambda:us-west-2:000000000000:function:w'})
            # {'lambda_name': 'w'}
        """
        payload = _json_object(event, "event")
        job = dict(_json_object(payload["job"], "job")) if "job" in payload else dict(payload)
        if not any(job.get(key) is not None for key in ("lambda_name", "labourer_id")):
            _, name = self._labourer_name(payload)
            job["lambda_name"] = name
        self._labourer_name(job)
        if job.get("lambda_name") is not None:
            job["lambda_name"] = trim_arn_to_name(job["lambda_name"])
        return job

    @staticmethod
    def _labourer_name(job: Dict) -> Tuple[str, str]:
        """(the key naming the Labourer, its name) of a job."""
        given = {key: job[key] for key in ("lambda_name", "labourer_id") if job.get(key) is not None}
        if not given:
            raise InvalidJob("the job names no Labourer (lambda_name or labourer_id)", field="lambda_name")
        for key, value in given.items():
            if not isinstance(value, str) or not value.strip():
                raise InvalidJob(f"expected a function name or ARN, got {value!r}", field=key, value=value)
        if len({trim_arn_to_name(value) for value in given.values()}) > 1:
            raise InvalidJob(f"names another Labourer than lambda_name {given['lambda_name']!r}",
                             field="labourer_id", value=given["labourer_id"])
        key = next(iter(given))
        return key, given[key]

    # Job schema ------------------------------------------------------------------------------------------------

    def _validate_job_schemas(self) -> None:
        """Check ``job_schema`` and every variant once, at construction. Without a ``default`` variant,
        ``job_schema`` is the default (the original shipped an empty ``default`` that replaced it at every call)."""
        schema = self.config.get("job_schema") or {}
        variants = self.config.get("job_schema_variants") or {}
        if not isinstance(variants, dict):
            raise SchedulerConfigError(f"expected {{name: job_schema}}, got {type(variants).__name__}",
                                       config_name="job_schema_variants")
        variants.setdefault("default", copy.deepcopy(schema))
        self._chunkable_attrs_of(schema, "job_schema")
        for name, variant in variants.items():
            self._chunkable_attrs_of(variant, f"job_schema_variants.{name}")
        self.config["job_schema"], self.config["job_schema_variants"] = schema, variants

    @staticmethod
    def _chunkable_attrs_of(schema: Any, where: str) -> List[str]:
        """The validated ``chunkable_attrs`` of a job schema: singular names, or the original's ``(name, {})``
        pairs.

        :raises SchedulerConfigError: A name is not an identifier, ends with ``s`` (the plural is the name + ``s``),
            is ``day`` (dates are chunked by ``isolate_days``) or comes twice.
        """
        if not isinstance(schema, dict):
            raise SchedulerConfigError(f"expected a dict, got {type(schema).__name__}", config_name=where)
        raw = schema.get("chunkable_attrs") or []
        if not isinstance(raw, (list, tuple)):
            raise SchedulerConfigError(f"expected a list, got {type(raw).__name__}",
                                       config_name=f"{where}.chunkable_attrs")
        attrs: List[str] = []
        for item in raw:
            name = item[0] if isinstance(item, (list, tuple)) and item else item
            if (not isinstance(name, str) or not _ATTR_NAME.fullmatch(name) or name.endswith("s")
                    or name == "day" or name in attrs):
                raise SchedulerConfigError(f"expected distinct singular attribute names not ending in 's' (nor 'day'), "
                                           f"got {name!r}", config_name=f"{where}.chunkable_attrs")
            attrs.append(name)
        return attrs

    def initialize_from_job_schema(self) -> None:
        """Set :attr:`chunkable_attrs` from ``config['job_schema']``.

        :raises SchedulerConfigError: The schema is malformed (see ``_chunkable_attrs_of``).

        .. code-block:: python

            scheduler.config['job_schema'] = {'chunkable_attrs': ['topic', 'word']}
            scheduler.initialize_from_job_schema()
            scheduler.chunkable_attrs  # ['topic', 'word']
        """
        self.chunkable_attrs = self._chunkable_attrs_of(self.config.get("job_schema"), "job_schema")

    def apply_job_schema(self, name: Optional[str] = None) -> None:
        """Make the job schema variant ``name`` (``default`` if None) the ``config['job_schema']`` in use. The
        :attr:`chunkable_attrs` are set again only when the schema changes, so names you assigned stay while the
        schema does. :meth:`construct_job_data` applies the schema of each job's ``job_schema_name``.

        :param name: A key of ``config['job_schema_variants']``.
        :raises UnknownJobSchema: No such variant (``field`` is ``job_schema_name``).

        .. code-block:: python

            scheduler = Scheduler(custom_config={'job_schema_variants': {'by_topic': {'chunkable_attrs': ['topic']}}})
            scheduler.apply_job_schema('by_topic')
            scheduler.chunkable_attrs  # ['topic']
        """
        if name is not None and not isinstance(name, str):
            raise InvalidJob(f"expected a string, got {name!r}", field="job_schema_name", value=name)
        variants = self.config.get("job_schema_variants") or {}
        if name and name not in variants:
            raise UnknownJobSchema(f"unknown job schema {name!r}; known: {sorted(variants)}", field="job_schema_name",
                                   value=name)
        # A config replaced after construction may lack the 'default' variant: then the schema in use stays.
        schema = variants[name] if name else variants.get("default", self.config.get("job_schema"))
        if self.config.get("job_schema") != schema:
            self.config["job_schema"] = copy.deepcopy(schema)
            self.initialize_from_job_schema()

    # Chunking --------------------------------------------------------------------------------------------------

    def construct_job_data(self, job: Dict, skeleton: Optional[Dict] = None) -> List[Dict]:
        """Chunk a job into task payloads with the job schema of its ``job_schema_name`` (see
        :meth:`apply_job_schema`): dates first (:meth:`chunk_dates`), then the chunkable attributes
        (:meth:`chunk_job`). Control keys of the job (``period``, ``lambda_name``, ``labourer_id``,
        ``job_schema_name``, ``isolate_*``, ``max_*_per_batch``) are not copied into payloads.

        :param job: The job.
        :param skeleton: Attributes every payload gets as given (they win over the job's).
        :return: One payload per task.
        :raises InvalidJob: Naming the field at fault.

        .. code-block:: python

            scheduler.construct_job_data({'lambda_name': 'w', 'words': ['a', 'b'], 'isolate_words': True},
                                         skeleton={'labourer_id': 'w'})
            # [{'words': ['a'], 'labourer_id': 'w'}, {'words': ['b'], 'labourer_id': 'w'}]   (chunkable_attrs ['word'])
        """
        self.apply_job_schema(job.get("job_schema_name"))
        tasks = []
        for dated in self.chunk_dates(job):
            tasks.extend(self.chunk_job(dated))
        known = {f"{attr}s" for attr in self.chunkable_attrs} | {"days"}
        return [{**self._clean(task, known), **copy.deepcopy(skeleton or {})} for task in tasks]

    @staticmethod
    def _clean(task: Dict, known: set) -> Dict:
        """The payload of a task: without control keys. A chunking flag of an attribute not ``known`` (plurals of
        the chunkable attributes and ``days``) is an error."""
        payload = {}
        for key, value in task.items():
            match = _FLAG.fullmatch(key)
            if match:
                plural = match["isolate"] or match["max"]
                if plural not in known:
                    raise InvalidJob(f"{plural!r} is not chunkable; chunkable: {sorted(known)}", field=key)
            elif key not in CONTROL_KEYS:
                payload[key] = value
        return payload

    def chunk_dates(self, job: Dict, skeleton: Optional[Dict] = None) -> List[Dict]:
        """Expand ``period`` (or validate ``date_list``) into ``date_list`` and chunk it by ``isolate_days`` or
        ``max_days_per_batch``. Dates are chunked at the root of the job only. ``period`` and the days flags are
        consumed: the results carry ``date_list`` instead.

        :param job: The job.
        :param skeleton: Attributes every result gets (they win over the job's).
        :return: The job once per chunk of dates, or once (without the days flags) when it has no dates.
        :raises InvalidJob: Unknown ``period``, malformed ``date_list``, both given, or a days flag without dates.

        .. code-block:: python

            scheduler.chunk_dates({'period': 'last_2_days', 'max_days_per_batch': 1, 'a': 1})
            # [{'a': 1, 'date_list': ['2026-11-20']}, {'a': 1, 'date_list': ['2026-11-21']}]   (today 2026-11-22)
        """
        rest = {key: value for key, value in job.items() if key not in _DATE_KEYS}
        skeleton = dict(skeleton or {})
        period, date_list = job.get("period"), job.get("date_list")
        isolate, size = self._flags("days", job)
        if period is not None and date_list is not None:
            raise InvalidJob("give either period or date_list, not both", field="period", value=period)
        if period is not None:
            dates = self.get_dates_for_period(period)
        elif date_list is not None:
            dates = self._validate_dates(date_list, "date_list")
        else:
            if isolate or size:
                flag = "isolate_days" if isolate else "max_days_per_batch"
                raise InvalidJob("the job has neither period nor date_list to chunk", field=flag)
            return [{**rest, **skeleton}]
        groups = list(chunks(dates, 1 if isolate else size)) if (isolate or size) else [dates]
        return [{**rest, **skeleton, "date_list": group} for group in groups]

    def chunk_job(self, job: Dict, skeleton: Optional[Dict] = None, attr: Optional[str] = None) -> List[Dict]:
        """Recursively chunk a job along ``chunkable_attrs``, validating the values of each level.

        At the level of ``attr`` (the first chunkable attribute if omitted): a list of values is cut into single
        values (``isolate_<attr>s``) or batches (``max_<attr>s_per_batch``); a dict of nested payloads is split per
        key when its level is isolated or batched, or when a nested payload needs chunking, and the next attribute is
        looked for in each nested payload (which inherits the other attributes and flags of the job). A level that
        needs no chunking keeps its value as given; the next attribute is then looked for beside it.

        :param job: The job (or the part of it at this level).
        :param skeleton: Attributes already chunked by the levels above; they win over the job's.
        :param attr: Singular name of the attribute of this level.
        :return: One payload per task (control keys are still in; :meth:`construct_job_data` removes them).
        :raises InvalidJob: A value of an unsupported type, naming its key.

        .. code-block:: python

            scheduler.chunk_job({'topics': {'cars': {'words': ['toyota', 'mazda']}}, 'isolate_words': True})
            # [{'isolate_words': True, 'topics': ['cars'], 'words': ['toyota']},
            #  {'isolate_words': True, 'topics': ['cars'], 'words': ['mazda']}]   (chunkable_attrs ['topic', 'word'])
        """
        skeleton = dict(skeleton or {})
        chain = self.chunkable_attrs
        if not chain:
            return [{**job, **skeleton}]
        attr = chain[self.get_index_from_list(attr, chain)] if attr else chain[0]
        key, values, rest, next_attr = self._level(attr, job)

        def go_on(child: Dict, child_skeleton: Dict) -> List[Dict]:
            if next_attr is None:
                return [{**child, **child_skeleton}]
            return self.chunk_job(child, child_skeleton, next_attr)

        if key is None:
            return go_on(rest, skeleton)
        plural = f"{attr}s"
        isolate, size = self._flags(plural, job)
        if isinstance(values, dict) and any(value is not None for value in values.values()):
            if not (isolate or size or self._nested_need_chunking(next_attr, rest, values)):
                return go_on(rest, {**skeleton, key: values})
            result = []
            for name, nested in values.items():
                if nested is None:
                    nested = {}
                if not isinstance(nested, dict):
                    raise InvalidJob(f"expected a nested payload (dict) or None, got {type(nested).__name__}"
                                     f"{self._where(skeleton)}", field=f"{key}.{name}", value=nested)
                result.extend(go_on({**rest, **nested}, {**skeleton, plural: [name]}))
            return result
        flat = [values] if isinstance(values, _SCALARS) and not isinstance(values, bool) else values
        try:
            flat = self.validate_list_of_vals(flat)
        except InvalidJob as err:
            raise InvalidJob(f"{err.message}{self._where(skeleton)}", field=key, value=values) from None
        if not (isolate or size):
            return go_on(rest, {**skeleton, key: values})
        result = []
        for group in chunks(flat, 1 if isolate else size):
            result.extend(go_on(rest, {**skeleton, plural: group}))
        return result

    @staticmethod
    def _where(skeleton: Dict) -> str:
        """Where in the job an error is, for its message: the values chunked above it."""
        return f" (under {skeleton})" if skeleton else ""

    def needs_chunking(self, attr: str, data: Dict) -> bool:
        """Whether chunking ``data`` from the level of ``attr`` on gives more than the data as it is: an
        ``isolate_<attr>s`` or ``max_<attr>s_per_batch`` flag at this level, in a nested payload, or for a later
        chunkable attribute beside it.

        :param attr: Name of the attribute, singular or plural; an attribute that is not chunkable needs no chunking.
        :param data: The job (or the part of it at this level).

        .. code-block:: python

            scheduler.needs_chunking('topics', {'topics': {'cars': {'words': ['a', 'b']}}, 'isolate_words': True})
            # True   (chunkable_attrs ['topic', 'word'])
        """
        try:
            attr = self.chunkable_attrs[self.get_index_from_list(attr, self.chunkable_attrs)]
        except ValueError:
            return False
        key, values, rest, next_attr = self._level(attr, data)
        if key is not None:
            isolate, size = self._flags(f"{attr}s", data)
            if isolate or size:
                return True
            if isinstance(values, dict) and self._nested_need_chunking(next_attr, rest, values):
                return True
        return next_attr is not None and self.needs_chunking(next_attr, rest)

    def _nested_need_chunking(self, next_attr: Optional[str], rest: Dict, values: Dict) -> bool:
        """Whether a nested payload of ``values`` needs chunking, with the flags (not the values) it inherits."""
        if next_attr is None:
            return False
        flags = self.get_isolate_attributes_from_job(rest)
        return any(isinstance(nested, dict) and self.needs_chunking(next_attr, {**flags, **nested})
                   for nested in values.values())

    def get_next_chunkable_attr(self, attr: str) -> Optional[str]:
        """The chunkable attribute after ``attr`` (singular or plural) in :attr:`chunkable_attrs`; None after the last
        one or for an attribute that is not chunkable.

        .. code-block:: python

            scheduler.get_next_chunkable_attr('topics')  # 'word'   (chunkable_attrs ['topic', 'word'])
        """
        try:
            index = self.get_index_from_list(attr, self.chunkable_attrs)
        except ValueError:
            return None
        return self.chunkable_attrs[index + 1] if index + 1 < len(self.chunkable_attrs) else None

    @staticmethod
    def get_isolate_attributes_from_job(data: Dict) -> Dict:
        """The chunking flags of ``data``: its ``isolate_*`` and ``max_*_per_batch`` items.

        .. code-block:: python

            Scheduler.get_isolate_attributes_from_job({'words': ['a'], 'isolate_words': True})
            # {'isolate_words': True}
        """
        return {key: value for key, value in data.items() if _FLAG.fullmatch(key)}

    def _level(self, attr: str, data: Dict) -> Tuple[Optional[str], Any, Dict, Optional[str]]:
        """(the key holding the values of ``attr`` (a singular name of :attr:`chunkable_attrs`) in ``data`` or None,
        those values, the rest of ``data``, the next chunkable attribute or None). The plural key is the usual one;
        the singular one holds a single value."""
        next_attr = self.get_next_chunkable_attr(attr)
        plural = f"{attr}s"
        present = [key for key in (plural, attr) if data.get(key) is not None]
        if len(present) > 1:
            raise InvalidJob(f"give either {plural!r} or {attr!r}, not both", field=attr, value=data[attr])
        key = present[0] if present else None
        rest = {k: v for k, v in data.items() if k not in (plural, attr)}
        return key, (data[key] if key else None), rest, next_attr

    @staticmethod
    def _flags(plural: str, data: Dict) -> Tuple[bool, Optional[int]]:
        """(``isolate_<plural>``, ``max_<plural>_per_batch``) of ``data``, validated. Text is accepted as jobs built
        from text give it: ``"True"``, ``"false"``, ``"yes"``, ``"3"``..."""
        isolate = data.get(f"isolate_{plural}")
        try:
            isolate = to_bool(isolate)
        except ValueError:
            raise InvalidJob(f"expected true or false, got {isolate!r}", field=f"isolate_{plural}",
                             value=isolate) from None
        size = data.get(f"max_{plural}_per_batch")
        if isinstance(size, str) and size.strip().isdecimal():
            size = int(size)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise InvalidJob(f"expected a positive integer, got {size!r}", field=f"max_{plural}_per_batch",
                             value=size)
        return isolate, size

    @staticmethod
    def validate_list_of_vals(data: Union[list, set, tuple, Dict]) -> list:
        """The values of a chunkable attribute as a list. Supported values: str, int, float.

        :param data: A list, tuple or set of values (a set is sorted, so that rows come out in a stable order), or a
            dict whose values are all None: its keys are the values.
        :raises InvalidJob: Another container, a dict with a value, or a value of another type.

        .. code-block:: python

            Scheduler.validate_list_of_vals({'cars': None, 'food': None})  # ['cars', 'food']
            Scheduler.validate_list_of_vals(('a', 1, 2.5))  # ['a', 1, 2.5]
        """
        if isinstance(data, dict):
            if any(value is not None for value in data.values()):
                raise InvalidJob("expected a dict whose values are all None")
            values = list(data)
        elif isinstance(data, (set, frozenset)):
            values = sorted(data, key=lambda value: (type(value).__name__, value))
        elif isinstance(data, (list, tuple)):
            values = list(data)
        else:
            raise InvalidJob(f"expected a list of values, got {type(data).__name__}")
        for value in values:
            if isinstance(value, bool) or not isinstance(value, _SCALARS):
                raise InvalidJob(f"expected str, int or float values, got {type(value).__name__} {value!r}")
        return values

    @staticmethod
    def get_index_from_list(attr: str, data: Sequence[str]) -> int:
        """Index of ``attr`` in ``data``, ignoring a trailing ``s`` (plural) on either side.

        :raises ValueError: It is not there.

        .. code-block:: python

            Scheduler.get_index_from_list('words', ['topic', 'word'])  # 1
        """
        if not isinstance(attr, str):
            raise ValueError(f"attr: expected a string, got {type(attr).__name__}")
        singular = attr[:-1] if attr.endswith("s") else attr
        for index, item in enumerate(data):
            if item == attr or item == singular or (item.endswith("s") and item[:-1] == singular):
                return index
        raise ValueError(f"attr: {attr!r} is not in {list(data)!r}")

    # Periods ---------------------------------------------------------------------------------------------------

    def today_date(self) -> date:
        """Today, the date every period counts from: ``datetime.date.today()`` (UTC in Lambda), looked up at every
        call, so tests may patch ``sosw.scheduler.datetime``, or replace this method.
        """
        return datetime.date.today()

    def custom_period_patterns(self) -> List[Tuple[str, Callable[[str], List[str]]]]:
        """Periods of your own, tried before the built-in ones: ``(regular expression, method)`` pairs. The
        expression must match the whole period; the method gets the period and returns dates as ``YYYY-MM-DD``.

        By default the pairs come from ``config['custom_period_patterns']``, a list of regular expressions named as
        the original named them: the expression with its first ``[0-9]+`` replaced by ``x`` is the name of the
        method (``'last_[0-9]+_weeks'`` calls ``last_x_weeks``), which takes the period or no argument.

        .. code-block:: python

            class MyScheduler(Scheduler):
                def custom_period_patterns(self):
                    return [(r'last_(\\d+)_weeks', self.last_x_weeks)]

                def last_x_weeks(self, pattern):
                    weeks = int(pattern.split('_')[1])
                    return self.last_x_days(f'last_{7 * weeks}_days')

            # or, with the same method, in the config: {"custom_period_patterns": ["last_[0-9]+_weeks"]}
        """
        return self._configured_period_patterns()

    def _configured_period_patterns(self) -> List[Tuple[str, Callable[[str], List[str]]]]:
        """The ``(expression, method)`` pairs of ``config['custom_period_patterns']``, validated.

        :raises SchedulerConfigError: Not a list of valid expressions, or one names no method of this class.
        """
        patterns = self.config.get("custom_period_patterns") or []
        if not isinstance(patterns, (list, tuple)):
            raise SchedulerConfigError(f"expected a list of patterns, got {type(patterns).__name__}",
                                       config_name="custom_period_patterns")
        pairs = []
        for pattern in patterns:
            try:
                re.compile(pattern)
            except (TypeError, re.error) as err:
                raise SchedulerConfigError(f"expected a regular expression, got {pattern!r} ({err})",
                                           config_name="custom_period_patterns") from None
            name = pattern.replace("[0-9]+", "x", 1)
            method = getattr(self, name, None) if _ATTR_NAME.fullmatch(name) else None
            if not callable(method):
                raise SchedulerConfigError(f"{pattern!r} names no method {name!r} of {type(self).__name__}",
                                           config_name="custom_period_patterns")
            pairs.append((pattern, self._takes_period(method)))
        return pairs

    @staticmethod
    def _takes_period(method: Callable) -> Callable[[str], List[str]]:
        """``method`` as a function of the period: the original called methods without arguments too."""
        try:
            inspect.signature(method).bind("period")
        except TypeError:
            return lambda period: method()
        return method

    def get_dates_for_period(self, period: str) -> List[str]:
        """The dates of ``period`` as ``YYYY-MM-DD`` strings, from :meth:`custom_period_patterns` or the built-in
        periods: ``today``, ``yesterday``, ``N_days_back``, ``last_N_days``, ``previous_N_days``, ``last_week``,
        ``previous_week``.

        :raises InvalidJob: An unknown period (``field`` is ``period``).

        .. code-block:: python

            scheduler.get_dates_for_period('last_2_days')  # ['2026-11-20', '2026-11-21']   (today 2026-11-22)
        """
        if isinstance(period, str):
            patterns = [*self.custom_period_patterns(), *((regex, getattr(self, name)) for regex, name in _PERIODS)]
            for regex, method in patterns:
                if re.fullmatch(regex, period):
                    try:
                        dates = method(period)
                    except OverflowError:
                        raise InvalidJob(f"{period!r} reaches beyond the calendar", field="period") from None
                    return self._validate_dates(dates, "period")
        custom = "".join(f", {regex}" for regex, _ in self.custom_period_patterns())
        raise InvalidJob(f"unknown period {period!r}; use one of {_PERIOD_NAMES}{custom}", field="period",
                         value=period)

    @staticmethod
    def _validate_dates(dates: Any, field: str) -> List[str]:
        if not isinstance(dates, (list, tuple)) or not dates:
            raise InvalidJob(f"expected a non-empty list of YYYY-MM-DD dates, got {dates!r}", field=field, value=dates)
        for day in dates:
            valid = isinstance(day, str) and _DATE.fullmatch(day)
            try:
                valid = valid and date.fromisoformat(day)
            except ValueError:
                valid = False
            if not valid:
                raise InvalidJob(f"expected YYYY-MM-DD dates, got {day!r}", field=field, value=day)
        return list(dates)

    @staticmethod
    def _period_number(pattern: str, method: str, minimum: int = 1) -> int:
        """The number of days in ``pattern``, a period for the built-in ``method`` (0 if it has no number)."""
        match = re.fullmatch(_PERIOD_REGEX[method], pattern) if isinstance(pattern, str) else None
        if not match:
            raise InvalidJob(f"{pattern!r} is no period for {method}()", field="period", value=pattern)
        number = int(match[1]) if match.groups() else 0
        if number < minimum:
            raise InvalidJob(f"{pattern!r}: the number of days must be at least {minimum}", field="period",
                             value=pattern)
        return number

    def _days(self, first_back: int, last_back: int) -> List[str]:
        """Dates from ``first_back`` down to ``last_back`` days before today, ascending."""
        today = self.today_date()
        return [(today - timedelta(days=back)).isoformat() for back in range(first_back, last_back - 1, -1)]

    def today(self, pattern: str = "today") -> List[str]:
        """``[today]`` (UTC).

        .. code-block:: python

            scheduler.today()  # ['2026-11-22']
        """
        self._period_number(pattern, "today", minimum=0)
        return self._days(0, 0)

    def yesterday(self, pattern: str = "yesterday") -> List[str]:
        """``[today - 1]``.

        .. code-block:: python

            scheduler.yesterday()  # ['2026-11-21']   (today 2026-11-22)
        """
        self._period_number(pattern, "yesterday", minimum=0)
        return self._days(1, 1)

    def x_days_back(self, pattern: str) -> List[str]:
        """``N_days_back``: ``[today - N]``.

        .. code-block:: python

            scheduler.x_days_back('7_days_back')  # ['2026-11-15']   (today 2026-11-22)
        """
        days = self._period_number(pattern, "x_days_back", minimum=0)
        return self._days(days, days)

    def last_x_days(self, pattern: str) -> List[str]:
        """``last_N_days``: the N days before today, ``today - N`` ... ``today - 1``.

        .. code-block:: python

            scheduler.last_x_days('last_3_days')  # ['2026-11-19', '2026-11-20', '2026-11-21']   (today 2026-11-22)
        """
        days = self._period_number(pattern, "last_x_days")
        return self._days(days, 1)

    def previous_x_days(self, pattern: str) -> List[str]:
        """``previous_N_days``: the N days before the last N days, ``today - 2N`` ... ``today - N - 1``.

        .. code-block:: python

            scheduler.previous_x_days('previous_2_days')  # ['2019-04-26', '2019-04-27']   (today 2019-04-30)
        """
        days = self._period_number(pattern, "previous_x_days")
        return self._days(2 * days, days + 1)

    def _last_saturday_back(self) -> int:
        """Days back to the Saturday that ended the last full Sunday-Saturday week (a week is full once over)."""
        return (self.today_date().weekday() - 5) % 7 or 7

    def last_week(self, pattern: str = "last_week") -> List[str]:
        """The last full week, Sunday to Saturday, before today.

        .. code-block:: python

            scheduler.last_week()  # ['2026-11-15', ..., '2026-11-21']   (today Sunday 2026-11-22)
        """
        self._period_number(pattern, "last_week", minimum=0)
        saturday = self._last_saturday_back()
        return self._days(saturday + 6, saturday)

    def previous_week(self, pattern: str = "previous_week") -> List[str]:
        """The full Sunday-Saturday week before :meth:`last_week`.

        .. code-block:: python

            scheduler.previous_week()  # ['2026-11-08', ..., '2026-11-14']   (today Sunday 2026-11-22)
        """
        self._period_number(pattern, "previous_week", minimum=0)
        saturday = self._last_saturday_back() + 7
        return self._days(saturday + 6, saturday)

    # The queue file --------------------------------------------------------------------------------------------

    @property
    def batch_size(self) -> int:
        """Rows written per ``create_tasks`` call, ``config['batch_size']``."""
        size = self.config.get("batch_size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"expected a positive integer, got {size!r}", config_name="batch_size")
        return size

    @property
    def _prefix(self) -> str:
        prefix = self.config.get("s3_prefix") or ""
        return prefix if not prefix or prefix.endswith("/") else f"{prefix}/"

    @property
    def _bucket(self) -> str:
        bucket = self.config.get("queue_bucket")
        if not bucket or not isinstance(bucket, str):
            raise ConfigError("required to keep the queue file of a job of more than batch_size rows in S3",
                              config_name="queue_bucket")
        return bucket

    @property
    def _context(self) -> Any:
        # The module-level name, looked up now: tests set or patch ``sosw.scheduler.global_vars``.
        return self.lambda_context or global_vars.lambda_context

    def set_queue_file(self, name: Optional[str] = None) -> None:
        """Start with a queue file: ``<queue_dir>/<name>``, in S3 ``<s3_prefix><name>``. The job id is the name
        without its ``.jsonl`` suffix.

        :param name: File name; a new unique one if omitted, so a warm container never reuses the file of an
            earlier job.

        .. code-block:: python

            scheduler.set_queue_file()
            scheduler.local_queue_file  # '/tmp/5f0c...e1.jsonl'
        """
        name = name or f"{uuid.uuid4().hex}.jsonl"
        self._queue_file_name = name
        #: Id of the job whose rows the queue file holds; task ids derive from it.
        self.job_id = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
        self._labourer_id: Optional[str] = None
        self._rows_parsed: Optional[int] = None
        self._unconfirmed = 0  # rows from here on that may already be in DynamoDB
        self._remote_rows_done = 0  # rows of the S3 copy that are in DynamoDB
        self._lock_status = _MISSING

    @property
    def local_queue_file(self) -> str:
        """Local path of the queue file: ``<queue_dir>/<name>``."""
        return os.path.join(self.config.get("queue_dir") or tempfile.gettempdir(), self._queue_file_name)

    def _queue_file_name_from_key(self, key: Any) -> str:
        """The file name of a ``queue_file`` given in an event: a key under ``s3_prefix``, locked or not."""
        if not isinstance(key, str):
            raise InvalidEvent(f"expected an S3 key, got {key!r}", field="queue_file", value=key)
        directory, _, name = key.rpartition("/")
        if (directory and f"{directory}/" != self._prefix) or not _QUEUE_FILE_NAME.fullmatch(name):
            raise InvalidEvent(f"expected a file name under {self._prefix!r}, got {key!r}", field="queue_file",
                               value=key)
        return name[len("locked_"):] if name.startswith("locked_") else name

    @property
    def remote_queue_file(self) -> str:
        """S3 key of the queue file while no Scheduler works on it."""
        return f"{self._prefix}{self._queue_file_name}"

    @property
    def remote_queue_locked_file(self) -> str:
        """S3 key of the queue file while a Scheduler works on it: no other may touch it."""
        return f"{self._prefix}locked_{self._queue_file_name}"

    def task_id(self, row: int) -> str:
        """The task id of row ``row`` of the current job: the same for every attempt to write it.

        .. code-block:: python

            scheduler.task_id(0)  # uuid5 of the job id and 0, as hex
        """
        return uuid.uuid5(TASK_ID_NAMESPACE, f"{self.job_id}/{row}").hex

    def _get_labourer(self, name: str, field: str = "lambda_name") -> Labourer:
        try:
            labourer = self.task_client.get_labourer(name)
        except LabourerNotFound as err:
            raise LabourerNotFound(err.message, field=field, value=name) from None
        if labourer is None:  # a TaskManager of the original's kind answers None
            raise LabourerNotFound(f"{name!r} is not a configured Labourer", field=field, value=name)
        return labourer

    def parse_job_to_file(self, job: Dict) -> int:
        """Chunk the whole job into ``local_queue_file``, one ``{"task_id", "payload"}`` JSON line per task.
        Everything is validated first (the Labourer, the job, every payload), so an invalid job writes nothing.

        :param job: The job, already extracted from the event (see :meth:`extract_job_from_payload`).
        :return: The number of rows (tasks).
        :raises InvalidJob: Naming the field at fault.
        :raises LabourerNotFound: The job's Labourer is not configured.

        .. code-block:: python

            scheduler.set_queue_file()
            scheduler.parse_job_to_file({'lambda_name': 'my_worker', 'period': 'today'})  # 1
        """
        field, name = self._labourer_name(job)
        labourer = self._get_labourer(name, field)
        tasks = self.construct_job_data(job)
        path = self.local_queue_file
        partial = f"{path}.part"
        try:
            with open(partial, "w", encoding="utf-8") as queue:
                for row, task in enumerate(tasks):
                    try:
                        payload = self.task_client.construct_payload_for_task(payload=task)
                    except InvalidInput as err:
                        raise InvalidJob(f"task {row} of the job: {err.message}", field=err.field) from None
                    queue.write(f'{{"task_id": "{self.task_id(row)}", "payload": {payload}}}\n')
            os.replace(partial, path)
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise
        self._labourer_id = labourer.id
        self._rows_parsed = len(tasks)
        self.stats["jobs_parsed"] += 1
        self.stats["rows_parsed"] += len(tasks)
        logger.info("job %s: %d tasks for %s", self.job_id, len(tasks), labourer.id)
        return len(tasks)

    @staticmethod
    def pop_rows_from_file(file_name: str, rows: Optional[int] = 1) -> List[str]:
        """Read rows from the top of a file and remove them from it (the rest is rewritten, then swapped in). A file
        left empty is deleted.

        :param file_name: File to read.
        :param rows: Number of rows to pop.
        :return: The rows, without their line ends; ``[]`` if there is no such file.

        .. code-block:: python

            Scheduler.pop_rows_from_file('/tmp/queue.jsonl', rows=2)  # ['{"task_id": ...}', '{"task_id": ...}']
        """
        popped: List[str] = []
        rest = f"{file_name}.rest"
        try:
            with open(file_name, encoding="utf-8") as source:
                while len(popped) < (rows or 0):
                    line = source.readline()
                    if not line:
                        break
                    popped.append(line.rstrip("\n"))
                if popped:
                    with open(rest, "w", encoding="utf-8") as target:
                        shutil.copyfileobj(source, target, 1 << 20)
        except FileNotFoundError:
            return popped
        if popped:
            os.replace(rest, file_name)
        if os.path.getsize(file_name) == 0:
            os.remove(file_name)
        return popped

    def clean_tmp(self, file_name: Optional[str] = None) -> None:
        """Delete a local file if it exists.

        :param file_name: The file; :attr:`local_queue_file` if omitted.

        .. code-block:: python

            scheduler.clean_tmp()
        """
        path = file_name or self.local_queue_file
        if os.path.isfile(path):
            os.remove(path)

    @staticmethod
    def _read_rows(queue: Any, rows: int) -> List[str]:
        """The next ``rows`` rows of an open queue file."""
        return [line.rstrip("\n") for line in itertools.islice(queue, rows)]

    # S3 --------------------------------------------------------------------------------------------------------

    def _metadata(self, locked: bool = True) -> Dict[str, str]:
        metadata = {_META_LABOURER: self._labourer_id or "", _META_JOB: self.job_id,
                    _META_ROWS_DONE: str(self._remote_rows_done if locked else 0)}
        if locked:
            metadata[_META_OWNER] = self._owner
        return metadata

    def _put(self, key: str, locked: bool, if_none_match: bool = False) -> bool:
        """Upload the local queue file to ``key``. False: ``if_none_match`` and the key exists already."""
        extra = {"IfNoneMatch": "*"} if if_none_match else {}
        try:
            with open(self.local_queue_file, "rb") as body:
                self.s3_client.put_object(Bucket=self._bucket, Key=key, Body=body, Metadata=self._metadata(locked),
                                          ContentType="application/x-ndjson", **extra)
        except ClientError as err:
            if if_none_match and _is_precondition_failed(err):
                return False
            raise
        return True

    def _checkpoint(self) -> None:
        """Record in the locked S3 copy (its metadata, by a server-side copy) how many of its rows are in DynamoDB."""
        key = self.remote_queue_locked_file
        self.s3_client.copy_object(Bucket=self._bucket, Key=key, CopySource={"Bucket": self._bucket, "Key": key},
                                   Metadata=self._metadata(), MetadataDirective="REPLACE",
                                   ContentType="application/x-ndjson")
        self.stats["queue_checkpoints"] += 1

    def _may_take(self, metadata: Dict[str, str], last_modified: datetime.datetime) -> bool:
        """Whether a lock may be taken over: it is ours (a Lambda retry of its owner) or it is stale."""
        if metadata.get(_META_OWNER) == self._owner:
            return True
        age = time.time() - last_modified.timestamp()
        return age > float(self.config["queue_lock_timeout"])

    def _download(self, response: Dict) -> None:
        with open(self.local_queue_file, "wb") as target:
            shutil.copyfileobj(response["Body"], target, 1 << 20)
        metadata = response.get("Metadata") or {}
        if not metadata.get(_META_LABOURER):
            raise InvalidEvent(f"s3://{self._bucket}/{self.remote_queue_file} is no queue file of the Scheduler "
                               f"(no {_META_LABOURER} metadata)", field="queue_file")
        self._labourer_id = metadata[_META_LABOURER]
        self.job_id = metadata.get(_META_JOB) or self.job_id

    def _take_remote(self) -> str:
        """Take the queue file of the current job from S3, unlocked or with a lock that may be taken over.

        :return: ``taken`` (now in the local file, locked by us), ``locked`` (another Scheduler holds it) or
            ``not_found``.
        """
        bucket, key, locked_key = self._bucket, self.remote_queue_file, self.remote_queue_locked_file
        try:
            response = self.s3_client.get_object(Bucket=bucket, Key=key)
        except ClientError as err:
            if not _is_missing(err):
                raise
            response = None
        if response is not None:
            self._download(response)
            self._remote_rows_done = 0
            if not self._put(locked_key, locked=True, if_none_match=True):
                head = self.s3_client.head_object(Bucket=bucket, Key=locked_key)
                if not self._may_take(head.get("Metadata") or {}, head["LastModified"]):
                    return _LOCKED
                self._put(locked_key, locked=True)
            self.s3_client.delete_object(Bucket=bucket, Key=key)
        else:
            try:
                response = self.s3_client.get_object(Bucket=bucket, Key=locked_key)
            except ClientError as err:
                if not _is_missing(err):
                    raise
                return _MISSING
            if not self._may_take(response.get("Metadata") or {}, response["LastModified"]):
                response["Body"].close()
                return _LOCKED
            self._download(response)
            self._remote_rows_done = int((response.get("Metadata") or {}).get(_META_ROWS_DONE) or 0)
            self.pop_rows_from_file(self.local_queue_file, self._remote_rows_done)
            self._checkpoint()
        # The last batch before the checkpoint may be in DynamoDB already: write the next one with skip_existing.
        self._unconfirmed = self.batch_size
        self.stats["queue_files_taken"] += 1
        return _TAKEN

    def get_and_lock_queue_file(self) -> Optional[str]:
        """Lock the queue file of the current job in S3 (as :attr:`remote_queue_locked_file`) and have it locally.

        A job just parsed here is uploaded in the locked state, with ``If-None-Match: *``; in a Lambda retry of the
        invocation that parsed it first, the earlier attempt's copy in S3 is taken over instead. Otherwise the file is
        downloaded from S3: the unlocked one is locked; a locked one only if its lock may be taken over (see the
        module documentation).

        :return: The local path, or None: another Scheduler holds the lock, or there is no such file in S3.
        :raises ConfigError: ``queue_bucket`` is not configured.

        .. code-block:: python

            scheduler.set_queue_file('5f0c...e1.jsonl')
            scheduler.get_and_lock_queue_file()  # '/tmp/5f0c...e1.jsonl'
        """
        if self._rows_parsed is None or self._retry_possible:
            status = self._take_remote()
            if status == _TAKEN:
                return self.local_queue_file
            if self._rows_parsed is None or status == _LOCKED:
                self._lock_status = status
                return None
        if self._put(self.remote_queue_locked_file, locked=True, if_none_match=True):
            return self.local_queue_file
        self._lock_status = _LOCKED
        return None

    def upload_and_unlock_queue_file(self) -> None:
        """Upload the local queue file (the rows still to write) as :attr:`remote_queue_file`, then remove the locked
        copy. The upload comes first, so the rows are in S3 at every moment.

        .. code-block:: python

            scheduler.upload_and_unlock_queue_file()
        """
        self._put(self.remote_queue_file, locked=False)
        self.s3_client.delete_object(Bucket=self._bucket, Key=self.remote_queue_locked_file)

    # Processing ------------------------------------------------------------------------------------------------

    @property
    def sufficient_execution_time_left(self) -> bool:
        """Whether the Lambda has more than ``shutdown_period`` seconds left; always True without a Lambda context."""
        remaining = getattr(self._context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return True
        return remaining() > float(self.config["shutdown_period"]) * 1000

    def _result(self, status: str, created: int, in_s3: bool) -> Dict[str, Any]:
        return {"status": status, "tasks_created": created, "job_id": self.job_id,
                "queue_file": self.remote_queue_file if in_s3 else None}

    def process_file(self) -> Dict[str, Any]:
        """Write the rows of the queue file as tasks, a batch at a time, each batch leaving the file only after it
        is in DynamoDB. A job of more than one batch (or resumed from S3) is locked in S3 first and checkpointed
        after every batch; when time runs short, the rest goes to S3 and a sibling invocation goes on with it.

        :return: As calling the Scheduler returns (see ``__call__``).

        .. code-block:: python

            scheduler.set_queue_file()
            scheduler.parse_job_to_file(job)
            scheduler.process_file()  # {'status': 'done', 'tasks_created': 36, ...}
        """
        path = self.local_queue_file
        in_s3 = self._rows_parsed is None or self._rows_parsed > self.batch_size
        try:
            if in_s3 and self.get_and_lock_queue_file() is None:
                logger.info("queue file %s: %s", self.remote_queue_file, self._lock_status)
                self.clean_tmp(path)
                return self._result(self._lock_status, 0, in_s3)
            if not in_s3 and self._retry_possible:
                # A Lambda retry of this invocation might find this one batch written already.
                self._unconfirmed = self._rows_parsed or 0
            labourer = self._get_labourer(self._labourer_id, "labourer_id")
            created = batches = consumed = 0
            # Read straight through; the durable progress is the S3 copy's checkpoint, so the local file is
            # rewritten once, at a hand-off, not after every batch (which made big jobs quadratic). A queue taken over
            # with every row written is gone: pop_rows_from_file deletes the file it empties.
            with open(path, encoding="utf-8") if os.path.exists(path) else io.StringIO() as queue:
                lines = self._read_rows(queue, self.batch_size)
                while lines:
                    if batches and not self.sufficient_execution_time_left:
                        break
                    rows = [json.loads(line) for line in lines]
                    written = self.task_client.create_tasks(labourer, [row["payload"] for row in rows],
                                                            task_ids=[row["task_id"] for row in rows],
                                                            skip_existing=self._unconfirmed > 0)
                    created += len(written)
                    self._unconfirmed = max(self._unconfirmed - len(rows), 0)
                    batches += 1
                    consumed += len(rows)
                    lines = self._read_rows(queue, self.batch_size)
                    if in_s3:
                        self._remote_rows_done += len(rows)
                        if lines:
                            self._checkpoint()
            if lines:
                self.pop_rows_from_file(path, consumed)  # what is left goes to the sibling
                return self._hand_off(created)
            if in_s3:
                self.s3_client.delete_object(Bucket=self._bucket, Key=self.remote_queue_locked_file)
            self.clean_tmp(path)
            logger.info("job %s: done, %d tasks created by this invocation", self.job_id, created)
            return self._result("done", created, in_s3)
        except BaseException:
            # The durable copy is in S3 (or, for a one-batch job, the event a retry brings again): /tmp is only space.
            self.clean_tmp(path)
            raise

    def _hand_off(self, created: int) -> Dict[str, Any]:
        """Put the rest of the queue in S3, unlocked, then invoke a sibling to go on with it."""
        self.upload_and_unlock_queue_file()
        result = self._result("continued_in_sibling", created, True)
        os.remove(self.local_queue_file)
        # Last: in a container running invocations side by side, the sibling may reuse this instance at once.
        self.siblings_client.spawn_sibling(self._context, payload={"queue_file": result["queue_file"]}, force=True)
        logger.info("job %s: %d tasks created, the rest goes on in a sibling with %s", self.job_id, created,
                    result["queue_file"])
        return result
