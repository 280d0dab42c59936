"""
The local queue file of a job: JSON lines ``{"task_id": ..., "payload": {...}}``, one per task, written whole before
anything goes to DynamoDB and read a batch at a time. Names and paths of the file, locally and in S3, and the task
ids that derive from the job id and the row number (so writing a row again never makes a second task).

.. code-block:: python

    from sosw.scheduling.queue_file import QueueFile

    queue = QueueFile.new('job-1.jsonl', directory='/tmp', prefix='sosw/scheduler/')
    queue.local_path, queue.remote_key, queue.locked_key
    # ('/tmp/job-1.jsonl', 'sosw/scheduler/job-1.jsonl', 'sosw/scheduler/locked_job-1.jsonl')
"""

import dataclasses
import itertools
import os
import re
import shutil
import uuid
from typing import IO, Any, Iterable, List, Optional

from sosw.exceptions import InvalidEvent

__all__ = ["TASK_ID_NAMESPACE", "QueueFile", "copy_into", "name_from_key", "pop_rows_from_file", "read_rows", "remove",
           "task_id", "write_rows"]

#: Namespace of the task ids derived from a job id and a row number (uuid5).
TASK_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/sosw/sosw/scheduler")

_SUFFIX = ".jsonl"
_LOCKED = "locked_"
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_COPY_BUFFER = 1 << 20


def task_id(job_id: str, row: int) -> str:
    """The task id of row ``row`` of job ``job_id``: the same for every attempt to write it.

    .. code-block:: python

        task_id('job-1', 0)  # uuid5 of 'job-1/0', as hex
    """
    return uuid.uuid5(TASK_ID_NAMESPACE, f"{job_id}/{row}").hex


@dataclasses.dataclass(frozen=True)
class QueueFile:
    """Where the queue file of a job is: ``<directory>/<name>`` here, ``<prefix><name>`` in S3 while no Scheduler
    works on it and ``<prefix>locked_<name>`` while one does.

    :param name: File name, e.g. ``<job id>.jsonl``.
    :param directory: Local directory.
    :param prefix: S3 key prefix, empty or ending with ``/``.
    """

    name: str
    directory: str
    prefix: str

    @classmethod
    def new(cls, name: Optional[str], directory: str, prefix: str) -> "QueueFile":
        """A queue file named ``name``, or a new unique name if omitted (so a warm container never reuses the file
        of an earlier job)."""
        return cls(name or f"{uuid.uuid4().hex}{_SUFFIX}", directory, prefix)

    @property
    def job_id(self) -> str:
        """The id of the job whose rows the file holds: its name without the ``.jsonl`` suffix."""
        return self.name[: -len(_SUFFIX)] if self.name.endswith(_SUFFIX) else self.name

    @property
    def local_path(self) -> str:
        """Local path of the file."""
        return os.path.join(self.directory, self.name)

    @property
    def remote_key(self) -> str:
        """S3 key of the file while no Scheduler works on it."""
        return f"{self.prefix}{self.name}"

    @property
    def locked_key(self) -> str:
        """S3 key of the file while a Scheduler works on it: no other may touch it."""
        return f"{self.prefix}{_LOCKED}{self.name}"


def name_from_key(key: Any, prefix: str) -> str:
    """The file name of a ``queue_file`` given in an event: a key under ``prefix`` (or a bare name), locked or not.

    :raises InvalidEvent: Not a key of a queue file under ``prefix`` (``field`` is ``queue_file``).

    .. code-block:: python

        name_from_key('sosw/scheduler/locked_abc.jsonl', 'sosw/scheduler/')  # 'abc.jsonl'
    """
    if not isinstance(key, str):
        raise InvalidEvent(f"expected an S3 key, got {key!r}", field="queue_file", value=key)
    directory, _, name = key.rpartition("/")
    if (directory and f"{directory}/" != prefix) or not _NAME.fullmatch(name):
        raise InvalidEvent(f"expected a file name under {prefix!r}, got {key!r}", field="queue_file", value=key)
    return name[len(_LOCKED):] if name.startswith(_LOCKED) else name


def write_rows(path: str, rows: Iterable[str]) -> int:
    """Write ``rows`` (lines without their line ends) as the file ``path``, all or nothing: into ``<path>.part``,
    then swapped in; an error while writing leaves no file.

    :return: The number of rows.
    """
    partial = f"{path}.part"
    count = 0
    try:
        with open(partial, "w", encoding="utf-8") as queue:
            for row in rows:
                queue.write(f"{row}\n")
                count += 1
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return count


def read_rows(queue: IO[str], rows: int) -> List[str]:
    """The next ``rows`` rows of an open queue file, without their line ends."""
    return [line.rstrip("\n") for line in itertools.islice(queue, rows)]


def pop_rows_from_file(file_name: str, rows: Optional[int] = 1) -> List[str]:
    """Read rows from the top of a file and remove them from it (the rest is rewritten, then swapped in). A file
    left empty is deleted.

    :param file_name: File to read.
    :param rows: Number of rows to pop.
    :return: The rows, without their line ends; ``[]`` if there is no such file.
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
                    shutil.copyfileobj(source, target, _COPY_BUFFER)
    except FileNotFoundError:
        return popped
    if popped:
        os.replace(rest, file_name)
    if os.path.getsize(file_name) == 0:
        os.remove(file_name)
    return popped


def remove(path: str) -> None:
    """Delete a local file if it exists."""
    if os.path.isfile(path):
        os.remove(path)


def copy_into(path: str, body: IO[bytes]) -> None:
    """Write a stream (e.g. the ``Body`` of an S3 object) as the file ``path``."""
    with open(path, "wb") as target:
        shutil.copyfileobj(body, target, _COPY_BUFFER)
