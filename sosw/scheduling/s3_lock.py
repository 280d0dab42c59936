"""
The S3 copy of a large job's queue file, and the lock on it: *take* the file (download it and lock it),
*checkpoint* how many of its rows are in DynamoDB, *release* the rest for a sibling, or *finish* it.

The copy is ``<prefix><job>.jsonl`` while no Scheduler works on it and ``<prefix>locked_<job>.jsonl`` while one
does. Its user metadata says whose queue it is (``labourer-id``, ``job-id``), who holds the lock (``owner``) and how
many of its rows are in DynamoDB (``rows-done``); a checkpoint rewrites the metadata by a server-side copy, with no
upload. Locking is a conditional ``PutObject`` (``If-None-Match: *``): of two Schedulers only one gets the file. A
lock is taken over without condition by its owner (a Lambda retry carries the request id of the failed attempt) or
once it is older than ``lock_timeout`` seconds.

.. code-block:: python

    from sosw.scheduling.s3_lock import TAKEN, S3QueueLock

    lock = S3QueueLock(s3_client, 'my-bucket', queue, owner='request-1', lock_timeout=900, stats=stats)
    status, copy = lock.take()
    if status == TAKEN:
        ...  # write rows copy.rows_done and on, then lock.checkpoint(...) after each batch
"""

import dataclasses
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Dict, Mapping, MutableMapping, Optional, Tuple

from botocore.exceptions import ClientError

from sosw.exceptions import InvalidEvent
from sosw.scheduling.queue_file import QueueFile, copy_into, pop_rows_from_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PutObjectRequestTypeDef
else:  # the stubs are a development dependency: at run time (and in the docs) the client is any object
    S3Client = Any

__all__ = ["LOCKED", "MISSING", "TAKEN", "QueueCopy", "S3QueueLock"]

#: Outcome of :meth:`S3QueueLock.take`: the file is here, locked by us.
TAKEN = "taken"
#: Outcome of :meth:`S3QueueLock.take`: another Scheduler holds the lock.
LOCKED = "locked"
#: Outcome of :meth:`S3QueueLock.take`: there is no such file (e.g. it is finished).
MISSING = "not_found"

# S3 user metadata of queue files (boto3 returns the keys in lower case).
_META_OWNER = "owner"
_META_LABOURER = "labourer-id"
_META_JOB = "job-id"
_META_ROWS_DONE = "rows-done"
_CONTENT_TYPE = "application/x-ndjson"


def _error_code(error: ClientError) -> Optional[str]:
    return error.response.get("Error", {}).get("Code")


def _is_missing(error: ClientError) -> bool:
    return _error_code(error) in ("NoSuchKey", "404", "NotFound")


def _is_precondition_failed(error: ClientError) -> bool:
    return _error_code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict")


@dataclasses.dataclass(frozen=True)
class QueueCopy:
    """What the S3 copy of a queue file records about itself.

    :param labourer_id: The Labourer of the job's tasks.
    :param job_id: The job.
    :param rows_done: Rows of the copy that are in DynamoDB.

    .. code-block:: python

        QueueCopy('my_worker', 'request-1', rows_done=500)
    """

    labourer_id: str
    job_id: str
    rows_done: int = 0


class S3QueueLock:
    """Take / checkpoint / release of the S3 copy of one queue file (see the module documentation).

    :param client: A boto3 S3 client.
    :param bucket: The bucket of queue files.
    :param queue: The queue file; the local file is what is uploaded and what a download replaces.
    :param owner: Who takes the lock: the request id of the invocation (or a fresh id outside Lambda).
    :param lock_timeout: Seconds after which a lock of another owner may be taken over.
    :param stats: Counts ``queue_checkpoints`` and ``queue_files_taken`` here.

    .. code-block:: python

        lock = S3QueueLock(boto3.client('s3'), 'my-bucket', queue, owner='request-1', lock_timeout=900, stats={})
        if lock.lock(QueueCopy('my_worker', queue.job_id)):
            ...  # write a batch
            lock.checkpoint(QueueCopy('my_worker', queue.job_id, rows_done=500))
    """

    def __init__(self, client: S3Client, bucket: str, queue: QueueFile, owner: str, lock_timeout: float,
                 stats: MutableMapping[str, Any]) -> None:
        self.client = client
        self.bucket = bucket
        self.queue = queue
        self.owner = owner
        self.lock_timeout = lock_timeout
        self.stats = stats

    def _metadata(self, copy: QueueCopy, locked: bool) -> Dict[str, str]:
        metadata = {_META_LABOURER: copy.labourer_id, _META_JOB: copy.job_id,
                    _META_ROWS_DONE: str(copy.rows_done if locked else 0)}
        if locked:
            metadata[_META_OWNER] = self.owner
        return metadata

    def _put(self, key: str, copy: QueueCopy, locked: bool, if_none_match: bool = False) -> bool:
        """Upload the local file to ``key``. False: ``if_none_match`` and the key exists already."""
        try:
            with open(self.queue.local_path, "rb") as body:
                params: PutObjectRequestTypeDef = {"Bucket": self.bucket, "Key": key, "Body": body,
                                                     "Metadata": self._metadata(copy, locked),
                                                     "ContentType": _CONTENT_TYPE}
                if if_none_match:
                    params["IfNoneMatch"] = "*"
                self.client.put_object(**params)
        except ClientError as err:
            if if_none_match and _is_precondition_failed(err):
                return False
            raise
        return True

    def _may_take(self, metadata: Mapping[str, str], last_modified: datetime) -> bool:
        """Whether a lock may be taken over: it is ours (a Lambda retry of its owner) or it is stale."""
        if metadata.get(_META_OWNER) == self.owner:
            return True
        return time.time() - last_modified.timestamp() > self.lock_timeout

    def _download(self, body: Any, metadata: Mapping[str, str]) -> QueueCopy:
        copy_into(self.queue.local_path, body)
        if not metadata.get(_META_LABOURER):
            raise InvalidEvent(f"s3://{self.bucket}/{self.queue.remote_key} is no queue file of the Scheduler "
                               f"(no {_META_LABOURER} metadata)", field="queue_file")
        return QueueCopy(metadata[_META_LABOURER], metadata.get(_META_JOB) or self.queue.job_id,
                         int(metadata.get(_META_ROWS_DONE) or 0))

    def _get(self, key: str) -> Optional[Any]:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if not _is_missing(err):
                raise
            return None

    def lock(self, copy: QueueCopy) -> bool:
        """Upload the local file of a job parsed here as the locked copy, unless there is one (``If-None-Match``).

        :return: False: the locked copy exists (another Scheduler works on this job).
        """
        return self._put(self.queue.locked_key, copy, locked=True, if_none_match=True)

    def take(self) -> Tuple[str, Optional[QueueCopy]]:
        """Take the queue file from S3, unlocked or with a lock that may be taken over, into the local file. Of a
        locked copy, the rows already in DynamoDB are dropped from the local file, and a checkpoint records the new
        owner.

        :return: (:data:`~sosw.scheduling.s3_lock.TAKEN` and what the copy records, or
            :data:`~sosw.scheduling.s3_lock.LOCKED` / :data:`~sosw.scheduling.s3_lock.MISSING` and None).
        """
        bucket, key, locked_key = self.bucket, self.queue.remote_key, self.queue.locked_key
        response = self._get(key)
        if response is not None:
            copy = dataclasses.replace(self._download(response["Body"], response.get("Metadata") or {}), rows_done=0)
            if not self._put(locked_key, copy, locked=True, if_none_match=True):
                head = self.client.head_object(Bucket=bucket, Key=locked_key)
                if not self._may_take(head.get("Metadata") or {}, head["LastModified"]):
                    return LOCKED, None
                self._put(locked_key, copy, locked=True)
            self.client.delete_object(Bucket=bucket, Key=key)
        else:
            response = self._get(locked_key)
            if response is None:
                return MISSING, None
            if not self._may_take(response.get("Metadata") or {}, response["LastModified"]):
                response["Body"].close()
                return LOCKED, None
            copy = self._download(response["Body"], response.get("Metadata") or {})
            pop_rows_from_file(self.queue.local_path, copy.rows_done)
            self.checkpoint(copy)
        self.stats["queue_files_taken"] += 1
        return TAKEN, copy

    def checkpoint(self, copy: QueueCopy) -> None:
        """Record in the locked copy (its metadata, by a server-side copy) how many of its rows are in DynamoDB."""
        key = self.queue.locked_key
        self.client.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                                Metadata=self._metadata(copy, locked=True), MetadataDirective="REPLACE",
                                ContentType=_CONTENT_TYPE)
        self.stats["queue_checkpoints"] += 1

    def release(self, copy: QueueCopy) -> None:
        """Upload the local file (the rows still to write) as the unlocked copy, then remove the locked one. The
        upload comes first, so the rows are in S3 at every moment."""
        self._put(self.queue.remote_key, copy, locked=False)
        self.finish()

    def finish(self) -> None:
        """Remove the locked copy: every row is in DynamoDB, or :meth:`release` uploaded the rest."""
        self.client.delete_object(Bucket=self.bucket, Key=self.queue.locked_key)
