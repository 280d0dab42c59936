"""
One job run: the Scheduler's work for one invocation, and the only holder of its per-job state (the job id, its
Labourer, the rows parsed, the rows that may be in DynamoDB already, the checkpoint of the S3 copy). A run is created
per invocation, so nothing of a job lives on in a warm container; the Scheduler itself keeps only settings and
clients. (Powertools' idempotency handler is the model: a long-lived store, a handler object per call.)

A run chunks the job into the local queue file (:meth:`JobRun.parse`), then writes it to DynamoDB a batch at a
time (:meth:`JobRun.process`); a job of more than one batch is locked in S3 first and checkpointed after every
batch, and handed to a sibling invocation when time runs short (see :mod:`sosw.scheduling.s3_lock`).

.. code-block:: python

    run = JobRun.for_request(context.aws_request_id, queue)
    run.parse(job, scheduler.construct_job_data, services)
    run.process(services)  # {'status': 'done', 'tasks_created': 36, 'job_id': '...', 'queue_file': None}
"""

import dataclasses
import io
import json
import logging
import os
import re
import uuid
from typing import Any, Callable, Dict, Iterator, List, MutableMapping, Optional, Protocol, Sequence

from sosw.exceptions import InvalidInput, InvalidJob, LabourerNotFound
from sosw.labourer import Labourer
from sosw.scheduling import jobs
from sosw.scheduling.queue_file import (
    TASK_ID_NAMESPACE,
    QueueFile,
    pop_rows_from_file,
    read_rows,
    remove,
    task_id,
    write_rows,
)
from sosw.scheduling.s3_lock import LOCKED, MISSING, TAKEN, QueueCopy, S3QueueLock
from sosw.scheduling.settings import SchedulerSettings

logger = logging.getLogger(__name__)

__all__ = ["JobRun", "RunServices", "TaskClient", "SiblingsClient", "get_labourer", "has_time_left"]

# Request ids fit for S3 keys and metadata as they are; others are hashed.
_ID = re.compile(r"[A-Za-z0-9_-]+")


class TaskClient(Protocol):
    """What a run asks of the TaskManager."""

    def get_labourer(self, labourer_id: str) -> Optional[Labourer]:
        """The configured Labourer ``labourer_id``."""

    def construct_payload_for_task(self, **kwargs: Any) -> str:
        """The payload of a task as JSON text, validated."""

    def create_tasks(self, labourer: Labourer, payloads: Sequence[Dict], task_ids: Optional[Sequence[str]] = None,
                     skip_existing: bool = False) -> Sequence[Any]:
        """Queue tasks; returns those written."""


class SiblingsClient(Protocol):
    """What a run asks of the SiblingsManager."""

    def spawn_sibling(self, lambda_context: Any, payload: Optional[Dict] = None, force: bool = False) -> Any:
        """Invoke a copy of the running function asynchronously."""


@dataclasses.dataclass(frozen=True)
class RunServices:
    """What a run uses, gathered by the Scheduler when a step starts (its clients may be replaced at any time, as
    tests of the original assign mocks to them).

    :param task_client: The TaskManager.
    :param s3_client: A boto3 S3 client.
    :param siblings_client: The SiblingsManager.
    :param settings: The Scheduler's settings.
    :param stats: The Scheduler's stats.
    :param context: The Lambda context, or None.
    :param time_left: Whether there is time for another batch.
    :param lock_queue_file: Takes the queue file in S3 (``Scheduler.get_and_lock_queue_file``).
    :param unlock_queue_file: Hands the rest of the queue to S3 (``Scheduler.upload_and_unlock_queue_file``).
    """

    task_client: TaskClient
    s3_client: Any
    siblings_client: SiblingsClient
    settings: SchedulerSettings
    stats: MutableMapping[str, Any]
    context: Any
    time_left: Callable[[], bool]
    lock_queue_file: Callable[[], Optional[str]]
    unlock_queue_file: Callable[[], None]


def has_time_left(context: Any, shutdown_period: float) -> bool:
    """Whether the Lambda has more than ``shutdown_period`` seconds left; always True without a Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return True
    return bool(remaining() > shutdown_period * 1000)


def get_labourer(task_client: TaskClient, name: Any, field: str = "lambda_name") -> Labourer:
    """The configured Labourer ``name``.

    :param field: The job's field that named it, for the error.
    :raises LabourerNotFound: It is not configured.
    """
    try:
        labourer = task_client.get_labourer(name)
    except LabourerNotFound as err:
        raise LabourerNotFound(err.message, field=field, value=name) from None
    if labourer is None:  # a TaskManager of the original's kind answers None
        raise LabourerNotFound(f"{name!r} is not a configured Labourer", field=field, value=name)
    return labourer


class JobRun:
    """The state and steps of one job in one invocation.

    :param queue: The job's queue file.
    :param owner: Who takes locks in S3: the invocation's request id; a fresh id if omitted.
    :param retry_possible: The invocation may be a Lambda retry of one that failed: it takes its job over from S3.

    .. code-block:: python

        run = JobRun.for_request('request-1', QueueFile.new('request-1.jsonl', '/tmp', 'sosw/scheduler/'))
        run.job_id, run.owner, run.retry_possible  # ('request-1', 'request-1', True)
    """

    def __init__(self, queue: QueueFile, owner: Optional[str] = None, retry_possible: bool = False) -> None:
        self.queue = queue
        self.owner = owner or uuid.uuid4().hex
        self.retry_possible = retry_possible
        #: Id of the job whose rows the queue file holds; task ids derive from it.
        self.job_id = queue.job_id
        self.labourer_id: Any = None
        #: Rows chunked into the queue file here; None: the job comes from S3.
        self.rows_parsed: Optional[int] = None
        #: Rows from here on that may already be in DynamoDB.
        self.unconfirmed = 0
        #: Rows of the S3 copy that are in DynamoDB.
        self.rows_done = 0
        self.lock_status = MISSING

    @classmethod
    def for_request(cls, request_id: Any, queue: QueueFile) -> "JobRun":
        """The run of an invocation. A Lambda retry carries the request id of the failed attempt: it names the job
        (or the lock) to take over, so the request id is the owner (hashed if unfit for S3 keys and metadata)."""
        if not isinstance(request_id, str) or not request_id:
            return cls(queue)
        owner = request_id if _ID.fullmatch(request_id) else uuid.uuid5(TASK_ID_NAMESPACE, request_id).hex
        return cls(queue, owner, retry_possible=True)

    def restart(self, queue: QueueFile) -> "JobRun":
        """A run of the same invocation with another queue file, its job state fresh."""
        return JobRun(queue, self.owner, self.retry_possible)

    def task_id(self, row: int) -> str:
        """The task id of row ``row`` of the job."""
        return task_id(self.job_id, row)

    def result(self, status: str, created: int, in_s3: bool) -> Dict[str, Any]:
        """What the Scheduler answers."""
        return {"status": status, "tasks_created": created, "job_id": self.job_id,
                "queue_file": self.queue.remote_key if in_s3 else None}

    def _copy(self) -> QueueCopy:
        return QueueCopy("" if self.labourer_id is None else str(self.labourer_id), self.job_id, self.rows_done)

    def _s3_lock(self, services: RunServices) -> S3QueueLock:
        return S3QueueLock(services.s3_client, services.settings.bucket, self.queue, self.owner,
                           services.settings.queue_lock_timeout, services.stats)

    # Parsing -------------------------------------------------------------------------------------------------

    def parse(self, job: Dict[str, Any], construct_job_data: Callable[[Dict], List[Dict]],
              services: RunServices) -> int:
        """Chunk the whole job into the local queue file, one ``{"task_id", "payload"}`` JSON line per task.
        Everything is validated first (the Labourer, the job, every payload), so an invalid job writes nothing.

        :param job: The job, extracted from the event.
        :param construct_job_data: Chunks a job into payloads (``Scheduler.construct_job_data``).
        :return: The number of rows (tasks).
        :raises InvalidJob: Naming the field at fault.
        :raises LabourerNotFound: The job's Labourer is not configured.
        """
        field, name = jobs.labourer_name(job)
        labourer = get_labourer(services.task_client, name, field)
        tasks = construct_job_data(job)

        def rows() -> Iterator[str]:
            for row, task in enumerate(tasks):
                try:
                    payload = services.task_client.construct_payload_for_task(payload=task)
                except InvalidInput as err:
                    raise InvalidJob(f"task {row} of the job: {err.message}", field=err.field) from None
                yield f'{{"task_id": "{self.task_id(row)}", "payload": {payload}}}'

        count = write_rows(self.queue.local_path, rows())
        self.labourer_id = labourer.id
        self.rows_parsed = count
        services.stats["jobs_parsed"] += 1
        services.stats["rows_parsed"] += count
        logger.info("job %s: %d tasks for %s", self.job_id, count, labourer.id)
        return count

    # The S3 copy ---------------------------------------------------------------------------------------------

    def lock(self, services: RunServices) -> Optional[str]:
        """Lock the queue file in S3 and have it locally: a job parsed here is uploaded locked (in a Lambda retry,
        the earlier attempt's copy is taken over instead); otherwise it is taken from S3.

        :return: The local path, or None: another Scheduler holds the lock, or there is no such file in S3.
        :raises ConfigError: ``queue_bucket`` is not configured.
        """
        lock = self._s3_lock(services)
        if self.rows_parsed is None or self.retry_possible:
            status, copy = lock.take()
            if copy is not None:
                self.labourer_id, self.job_id, self.rows_done = copy.labourer_id, copy.job_id, copy.rows_done
                # The last batch before the checkpoint may be in DynamoDB already: write the next with skip_existing.
                self.unconfirmed = services.settings.batch_size
            if status == TAKEN:
                return self.queue.local_path
            if self.rows_parsed is None or status == LOCKED:
                self.lock_status = status
                return None
        if lock.lock(self._copy()):
            return self.queue.local_path
        self.lock_status = LOCKED
        return None

    def unlock(self, services: RunServices) -> None:
        """Upload the local queue file (the rows still to write) as the unlocked copy, then drop the lock."""
        self._s3_lock(services).release(self._copy())

    # Processing ----------------------------------------------------------------------------------------------

    def process(self, services: RunServices) -> Dict[str, Any]:
        """Write the rows of the queue file as tasks, a batch at a time, each batch leaving the file only after it
        is in DynamoDB. A job of more than one batch (or resumed from S3) is locked in S3 first and checkpointed
        after every batch; when time runs short, the rest goes to S3 and a sibling invocation goes on with it.

        :return: As calling the Scheduler returns.
        """
        path = self.queue.local_path
        batch_size = services.settings.batch_size
        in_s3 = self.rows_parsed is None or self.rows_parsed > batch_size
        try:
            if in_s3 and services.lock_queue_file() is None:
                logger.info("queue file %s: %s", self.queue.remote_key, self.lock_status)
                remove(path)
                return self.result(self.lock_status, 0, in_s3)
            if not in_s3 and self.retry_possible:
                # A Lambda retry of this invocation might find this one batch written already.
                self.unconfirmed = self.rows_parsed or 0
            labourer = get_labourer(services.task_client, self.labourer_id, "labourer_id")
            lock = self._s3_lock(services) if in_s3 else None
            created = batches = consumed = 0
            # Read straight through; the durable progress is the S3 copy's checkpoint, so the local file is
            # rewritten once, at a hand-off, not after every batch (which made big jobs quadratic). A queue taken over
            # with every row written is gone: pop_rows_from_file deletes the file it empties.
            with open(path, encoding="utf-8") if os.path.exists(path) else io.StringIO() as queue:
                lines = read_rows(queue, batch_size)
                while lines:
                    if batches and not services.time_left():
                        break
                    rows = [json.loads(line) for line in lines]
                    written = services.task_client.create_tasks(labourer, [row["payload"] for row in rows],
                                                                task_ids=[row["task_id"] for row in rows],
                                                                skip_existing=self.unconfirmed > 0)
                    created += len(written)
                    self.unconfirmed = max(self.unconfirmed - len(rows), 0)
                    batches += 1
                    consumed += len(rows)
                    lines = read_rows(queue, batch_size)
                    if lock is not None:
                        self.rows_done += len(rows)
                        if lines:
                            lock.checkpoint(self._copy())
            if lines:
                pop_rows_from_file(path, consumed)  # what is left goes to the sibling
                return self._hand_off(services, created)
            if lock is not None:
                lock.finish()
            remove(path)
            logger.info("job %s: done, %d tasks created by this invocation", self.job_id, created)
            return self.result("done", created, in_s3)
        except BaseException:
            # The durable copy is in S3 (or, for a one-batch job, the event a retry brings again): /tmp is only space.
            remove(path)
            raise

    def _hand_off(self, services: RunServices, created: int) -> Dict[str, Any]:
        """Put the rest of the queue in S3, unlocked, then invoke a sibling to go on with it."""
        services.unlock_queue_file()
        result = self.result("continued_in_sibling", created, True)
        os.remove(self.queue.local_path)
        # Last: in a container running invocations side by side, the sibling may reuse this instance at once.
        services.siblings_client.spawn_sibling(services.context, payload={"queue_file": result["queue_file"]},
                                               force=True)
        logger.info("job %s: %d tasks created, the rest goes on in a sibling with %s", self.job_id, created,
                    result["queue_file"])
        return result
