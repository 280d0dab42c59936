"""
The Scheduler's settings: its config parsed once, when the Scheduler is built (as s3transfer's ``TransferConfig``),
so a bad value fails there, naming the config row and key, not in the middle of a job.

.. code-block:: python

    from sosw.scheduling.settings import SchedulerSettings

    settings = SchedulerSettings.from_config({'batch_size': 100, 'queue_bucket': 'my-bucket'}, 'sosw_scheduler_config')
    settings.batch_size  # 100
    SchedulerSettings.from_config({'shutdown_period': 'soon'}, 'sosw_scheduler_config')
    # ConfigError: sosw_scheduler_config.shutdown_period: expected a number of seconds, got 'soon'
"""

import dataclasses
import math
import tempfile
import types
from decimal import Decimal
from typing import Any, Mapping, Optional, Tuple

from sosw import constants
from sosw.exceptions import ConfigError, InvalidJob, SchedulerConfigError, UnknownJobSchema
from sosw.scheduling.chunking import JobSchema
from sosw.scheduling.periods import parse_period_patterns

__all__ = ["DEFAULT_CONFIG_NAME", "SchedulerSettings"]

#: The Scheduler's config row when no ``AWS_LAMBDA_FUNCTION_NAME`` names another.
DEFAULT_CONFIG_NAME = "sosw_scheduler_config"


@dataclasses.dataclass(frozen=True)
class SchedulerSettings:
    """The Scheduler's config keys, checked (``task_config`` is the TaskManager's). Built by :meth:`from_config`.

    :param job_schema: The job schema of jobs that name no variant, unless there is a ``default`` variant.
    :param job_schema_variants: Job schemas by name; ``default`` is always there.
    :param queue_bucket: S3 bucket of the queue files of large jobs; None: not configured (a job of more than
        ``batch_size`` rows then fails with ``ConfigError`` before anything is written).
    :param s3_prefix: Key prefix of the queue files, empty or ending with ``/``.
    :param queue_dir: Local directory of queue files; None: the system's temporary directory.
    :param batch_size: Rows written per ``create_tasks`` call.
    :param shutdown_period: Seconds of Lambda time to keep for handing the rest of a job to a sibling.
    :param queue_lock_timeout: Seconds after which a lock on a queue file may be taken over.
    :param custom_period_patterns: Regular expressions of periods of your own, each naming a method of the Scheduler
        (see ``Scheduler.custom_period_patterns``).
    :param config_name: The config row, named in errors.

    .. code-block:: python

        settings = SchedulerSettings.from_config(scheduler.config, 'sosw_scheduler_config')
        settings.bucket  # ConfigError: sosw_scheduler_config.queue_bucket: required ... (when not configured)
    """

    job_schema: JobSchema
    job_schema_variants: Mapping[str, JobSchema]
    queue_bucket: Optional[str] = None
    s3_prefix: str = constants.SCHEDULER_QUEUE_PREFIX
    queue_dir: Optional[str] = None
    batch_size: int = 500
    shutdown_period: float = 60.0
    queue_lock_timeout: float = 900.0
    custom_period_patterns: Tuple[str, ...] = ()
    config_name: str = DEFAULT_CONFIG_NAME

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str = DEFAULT_CONFIG_NAME) -> "SchedulerSettings":
        """Parse the Scheduler's config.

        :param config: The assembled config (defaults, config rows, ``custom_config``); a missing key has the
            default of this class.
        :param config_name: The config row, named in errors as ``<config_name>.<key>``.
        :raises ConfigError: A malformed value (:class:`~sosw.exceptions.SchedulerConfigError` for ``job_schema``,
            ``job_schema_variants`` and ``custom_period_patterns``).
        """

        def key(name: str) -> str:
            return f"{config_name}.{name}"

        schema = JobSchema.from_config(config.get("job_schema") or {}, key("job_schema"))
        variants = config.get("job_schema_variants") or {}
        if not isinstance(variants, dict):
            raise SchedulerConfigError(f"expected {{name: job_schema}}, got {type(variants).__name__}",
                                       config_name=key("job_schema_variants"))
        # Without a 'default' variant, job_schema is the default (the original shipped an empty 'default' that
        # replaced it at every call).
        parsed = {"default": schema}
        parsed.update({name: JobSchema.from_config(variant, key(f"job_schema_variants.{name}"))
                       for name, variant in variants.items()})
        return cls(
            job_schema=schema,
            job_schema_variants=types.MappingProxyType(parsed),
            queue_bucket=_optional_text(config.get("queue_bucket"), key("queue_bucket")),
            s3_prefix=_prefix(config.get("s3_prefix", cls.s3_prefix), key("s3_prefix")),
            queue_dir=_optional_text(config.get("queue_dir"), key("queue_dir")),
            batch_size=_positive_int(config.get("batch_size", cls.batch_size), key("batch_size")),
            shutdown_period=_seconds(config.get("shutdown_period", cls.shutdown_period), key("shutdown_period")),
            queue_lock_timeout=_seconds(config.get("queue_lock_timeout", cls.queue_lock_timeout),
                                        key("queue_lock_timeout")),
            custom_period_patterns=parse_period_patterns(config.get("custom_period_patterns"),
                                                         key("custom_period_patterns")),
            config_name=config_name,
        )

    @property
    def bucket(self) -> str:
        """``queue_bucket``, required once a job has more than ``batch_size`` rows.

        :raises ConfigError: It is not configured.
        """
        if self.queue_bucket is None:
            raise ConfigError("required to keep the queue file of a job of more than batch_size rows in S3",
                              config_name=f"{self.config_name}.queue_bucket")
        return self.queue_bucket

    @property
    def local_dir(self) -> str:
        """``queue_dir``, else the system's temporary directory (``/tmp`` in Lambda)."""
        return self.queue_dir or tempfile.gettempdir()

    def job_schema_variant(self, name: Optional[str] = None) -> JobSchema:
        """The job schema variant ``name``; ``default`` if None or empty.

        :raises UnknownJobSchema: No such variant (``field`` is ``job_schema_name``).
        """
        if name is not None and not isinstance(name, str):
            raise InvalidJob(f"expected a string, got {name!r}", field="job_schema_name", value=name)
        if name and name not in self.job_schema_variants:
            raise UnknownJobSchema(f"unknown job schema {name!r}; known: {sorted(self.job_schema_variants)}",
                                   field="job_schema_name", value=name)
        return self.job_schema_variants[name or "default"]


def _optional_text(value: Any, config_name: str) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"expected a string, got {value!r}", config_name=config_name)
    return value


def _prefix(value: Any, config_name: str) -> str:
    prefix = _optional_text(value, config_name) or ""
    return prefix if not prefix or prefix.endswith("/") else f"{prefix}/"


def _positive_int(value: Any, config_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"expected a positive integer, got {value!r}", config_name=config_name)
    return value


def _seconds(value: Any, config_name: str) -> float:
    """A number of seconds, zero or more: a number, or text of one (configs edited by hand give ``"60"``)."""
    seconds = math.nan
    if isinstance(value, (int, float, Decimal, str)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except ValueError:
            pass
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"expected a number of seconds, got {value!r}", config_name=config_name)
    return seconds
