"""
The Scheduler's parts, each readable on its own; :class:`sosw.scheduler.Scheduler` wires them and keeps its public
methods as delegations to them.

- :mod:`~sosw.scheduling.settings`: the config parsed once, at construction (``SchedulerSettings``).
- :mod:`~sosw.scheduling.jobs`: the job of an event, and its Labourer.
- :mod:`~sosw.scheduling.chunking`: job schemas and the pure chunking of a job into task payloads.
- :mod:`~sosw.scheduling.periods`: the calendar of ``period`` names, given today.
- :mod:`~sosw.scheduling.queue_file`: the local JSON-lines queue file, its names and the task ids.
- :mod:`~sosw.scheduling.s3_lock`: take / checkpoint / release of a large job's queue file in S3.
- :mod:`~sosw.scheduling.job_run`: one invocation's job, the only holder of per-job state.
"""

from sosw.scheduling.chunking import Chunker, JobSchema
from sosw.scheduling.job_run import JobRun, RunServices
from sosw.scheduling.periods import Calendar
from sosw.scheduling.queue_file import TASK_ID_NAMESPACE, QueueFile
from sosw.scheduling.s3_lock import QueueCopy, S3QueueLock
from sosw.scheduling.settings import SchedulerSettings

__all__ = ["TASK_ID_NAMESPACE", "Calendar", "Chunker", "JobRun", "JobSchema", "QueueCopy", "QueueFile",
           "RunServices", "S3QueueLock", "SchedulerSettings"]
