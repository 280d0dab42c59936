"""
CloudWatch metrics of the Essentials, written in the Embedded Metric Format (EMF): one JSON line per Labourer and
run, printed to stdout. Lambda ships stdout to CloudWatch Logs, which extracts the metrics from such lines, so
emitting costs no API call, no IAM permission and no time of the function.

Each line is a complete EMF document: the metric values are top-level keys next to the dimension ``Labourer``, and
``_aws`` tells CloudWatch which keys are metrics (namespace ``sosw`` by default, unit ``Count``):

.. code-block:: json

    {"_aws": {"Timestamp": 1764000000000, "CloudWatchMetrics": [{"Namespace": "sosw", "Dimensions": [["Labourer"]],
     "Metrics": [{"Name": "Invoked", "Unit": "Count"}, {"Name": "Running", "Unit": "Count"}]}]},
     "Labourer": "my_worker", "Invoked": 3, "Running": 5}

.. code-block:: python

    from sosw.components.metrics import EmfMetrics, MetricsSettings

    metrics = EmfMetrics(MetricsSettings(namespace='my_app'))
    metrics.add('my_worker', Invoked=3)
    metrics.add('my_worker', Invoked=2, Running=5)
    metrics.flush()  # prints one line for my_worker: Invoked 5, Running 5

:func:`log_stats` writes the other half of an Essential's telemetry, its ``stats``, as one structured log record.
"""

import dataclasses
import json
import logging
import math
import re
import sys
import time
from decimal import Decimal
from typing import IO, Any, Callable, Dict, List, Mapping, Optional

from sosw._settings import CUSTOM_CONFIG_NAME, parse_bool, parse_text
from sosw.exceptions import ConfigError, InvalidArgument

logger = logging.getLogger(__name__)

__all__ = ["EmfMetrics", "MetricsSettings", "emit_counts", "log_stats", "stats_record", "METRIC_NAMES", "NAMESPACE",
           "DIMENSION", "UNIT", "QUEUED", "RUNNING", "INVOKED", "COMPLETED", "EXPIRED", "RETRIED", "DEAD"]

#: The default namespace of sosw's metrics (config ``metrics_namespace``).
NAMESPACE = "sosw"
#: The one dimension of every metric: the Labourer's id.
DIMENSION = "Labourer"
#: The unit of every metric.
UNIT = "Count"

#: Tasks the Scheduler added to the queue in a run.
QUEUED = "Queued"
#: Tasks assumed running after an Orchestrator run: those it counted, plus those it invoked (a level, not a sum).
RUNNING = "Running"
#: Tasks the Orchestrator invoked in a run.
INVOKED = "Invoked"
#: Completed tasks the Scavenger archived in a run.
COMPLETED = "Completed"
#: Expired tasks the Scavenger moved in a run: to the retry table, or closed as dead.
EXPIRED = "Expired"
#: Tasks the Scavenger returned from the retry table to the queue in a run.
RETRIED = "Retried"
#: Tasks the Scavenger closed as dead in a run.
DEAD = "Dead"
#: Every metric the Essentials emit, as the dashboard of the templates reads them.
METRIC_NAMES = (QUEUED, RUNNING, INVOKED, COMPLETED, EXPIRED, RETRIED, DEAD)

# CloudWatch's rules for a namespace: these characters, at most 255, at least one that is no space, not "AWS/...".
_NAMESPACE = re.compile(r"[0-9A-Za-z.\-_/#: ]{1,255}")
# Keys of the document that are not metrics: a metric of such a name would overwrite them.
_RESERVED = frozenset({"_aws", DIMENSION})


@dataclasses.dataclass(frozen=True)
class MetricsSettings:
    """The config keys of an Essential's metrics, checked. Built by :meth:`from_config` when the Essential is
    built, so a bad value fails there, naming the config row and key.

    :param enabled: Config ``metrics``: print the EMF lines (default true).
    :param namespace: Config ``metrics_namespace``: the CloudWatch namespace of the metrics (default ``sosw``).
    :param config_name: The config row, named in errors.

    .. code-block:: python

        MetricsSettings.from_config({'metrics': 'false'}, 'sosw_orchestrator_config').enabled  # False
        MetricsSettings.from_config({'metrics_namespace': 'AWS/Lambda'}, 'sosw_orchestrator_config')
        # ConfigError: sosw_orchestrator_config.metrics_namespace: expected a CloudWatch namespace ...
    """

    enabled: bool = True
    namespace: str = NAMESPACE
    config_name: str = CUSTOM_CONFIG_NAME

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str) -> "MetricsSettings":
        """Parse ``metrics`` and ``metrics_namespace`` of an assembled config.

        :param config: The assembled config; a missing key has the default of this class.
        :param config_name: The config row, named in errors as ``<config_name>.<key>``.
        :raises ConfigError: A malformed value.
        """
        key = f"{config_name}.metrics_namespace"
        namespace = parse_text(config.get("metrics_namespace", cls.namespace), key)
        if not _NAMESPACE.fullmatch(namespace) or not namespace.strip() or namespace.startswith("AWS/"):
            raise ConfigError("expected a CloudWatch namespace: at most 255 of 0-9 A-Z a-z . - _ / # : and space, "
                              f"not starting with 'AWS/'; got {namespace!r}", config_name=key)
        return cls(enabled=parse_bool(config.get("metrics", cls.enabled), f"{config_name}.metrics"),
                   namespace=namespace, config_name=config_name)


class EmfMetrics:
    """Counts of one run per Labourer, printed by :meth:`flush` as one EMF line per Labourer.

    An Essential builds one with its config (:meth:`from_config`), calls :meth:`add` with what it did for each
    Labourer while it runs, and :meth:`flush` at the end of the run. With ``metrics: false`` nothing is kept or
    printed.

    :param settings: Whether to print, and the namespace; the defaults if None.
    :param stream: Where the lines go; ``sys.stdout`` as it is at each flush if None (so pytest's ``capsys`` sees
        them).
    :param clock: Seconds since the epoch, for the ``Timestamp`` of the lines; ``time.time`` if None.

    .. code-block:: python

        metrics = EmfMetrics.from_config({'metrics_namespace': 'my_app'}, 'sosw_scavenger_config')
        metrics.add('my_worker', Completed=12, Dead=0)
        metrics.flush()  # ['{"_aws": {...}, "Labourer": "my_worker", "Completed": 12, "Dead": 0}']
    """

    def __init__(self, settings: Optional[MetricsSettings] = None, *, stream: Optional[IO[str]] = None,
                 clock: Optional[Callable[[], float]] = None) -> None:
        #: Whether to print, and the namespace.
        self.settings = settings if settings is not None else MetricsSettings()
        self._stream = stream
        self._clock = clock or _now
        self._counts: Dict[str, Dict[str, int]] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str, **kwargs: Any) -> "EmfMetrics":
        """Metrics with the ``metrics`` and ``metrics_namespace`` of ``config`` (see :class:`MetricsSettings`).

        :param config: The Essential's assembled config.
        :param config_name: The config row, named in errors.
        :param kwargs: ``stream`` and ``clock`` for the constructor.
        :raises ConfigError: A malformed value.
        """
        return cls(MetricsSettings.from_config(config, config_name), **kwargs)

    def add(self, labourer_id: Any, **counts: int) -> None:
        """Add ``counts`` (metric name = whole number) to the Labourer's line of this run. A count of 0 is kept:
        the line then says "none this run" instead of nothing.

        :param labourer_id: The Labourer's id, the value of the ``Labourer`` dimension.
        :param counts: E.g. ``Invoked=3``.
        :raises InvalidArgument: A count is no whole number of at least 0, or a name is ``Labourer`` or ``_aws``.
        """
        for name, value in counts.items():
            if name in _RESERVED:
                raise InvalidArgument(f"{name!r} is a key of the EMF document, not a metric name", field=name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgument(f"expected a whole number of at least 0, got {value!r}", field=name, value=value)
        if not self.settings.enabled:
            return
        line = self._counts.setdefault(str(labourer_id), {})
        for name, value in counts.items():
            line[name] = line.get(name, 0) + value

    def document(self, labourer_id: Any, counts: Mapping[str, int],
                 timestamp: Optional[int] = None) -> Dict[str, Any]:
        """The EMF document of one Labourer's counts.

        :param labourer_id: The Labourer's id.
        :param counts: ``{metric name: count}``.
        :param timestamp: Milliseconds since the epoch; now if None.
        """
        if timestamp is None:
            timestamp = int(self._clock() * 1000)
        directive = {"Namespace": self.settings.namespace, "Dimensions": [[DIMENSION]],
                     "Metrics": [{"Name": name, "Unit": UNIT} for name in counts]}
        return {"_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [directive]}, DIMENSION: str(labourer_id),
                **counts}

    def flush(self) -> List[str]:
        """Print one EMF line per Labourer with what was added since the last flush, then start afresh. A Labourer
        with nothing added prints nothing.

        :return: The lines printed.
        """
        counts, self._counts = self._counts, {}
        if not self.settings.enabled:
            return []
        timestamp = int(self._clock() * 1000)
        lines = [json.dumps(self.document(labourer, line, timestamp), separators=(",", ":"))
                 for labourer, line in counts.items() if line]
        stream = self._stream if self._stream is not None else sys.stdout
        for line in lines:
            print(line, file=stream, flush=True)
        return lines


def _now() -> float:
    """Seconds since the epoch, looked up at each call (tests pin it)."""
    return time.time()


def emit_counts(config: Mapping[str, Any], counts: Mapping[Any, Mapping[str, int]],
                config_name: str = CUSTOM_CONFIG_NAME) -> List[str]:
    """Print the EMF lines of one run's ``counts`` with the metric settings of ``config``: for an Essential that
    knows its counts in one place, at the end of its work (the Scheduler). A malformed ``metrics`` or
    ``metrics_namespace``, or a count that is no whole number, is logged as an error naming the key and nothing is
    printed: the work is done by then, and a metric must not turn it into a failure that Lambda would retry. Counts
    of a Labourer id ``None`` (the run never learnt it) are left out.

    :param config: The Essential's assembled config.
    :param counts: ``{labourer_id: {metric name: count}}``.
    :param config_name: The config row, named in errors.
    :return: The lines printed.

    .. code-block:: python

        emit_counts(scheduler.config, {'my_worker': {'Queued': 36}}, 'sosw_scheduler_config')
    """
    try:
        metrics = EmfMetrics.from_config(config, config_name)
        for labourer_id, line in counts.items():
            if labourer_id is not None:
                metrics.add(labourer_id, **line)
    except (ConfigError, InvalidArgument) as err:
        logger.error("no metrics printed: %s", err)
        return []
    return metrics.flush()


def _json_value(value: Any) -> Any:
    """A stat as JSON: DynamoDB's ``Decimal`` as a number, anything else unknown as its text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def stats_record(stats: Mapping[str, Any], function: Optional[str] = None) -> Dict[str, Any]:
    """The structured record of a Processor's stats: ``{"message": "stats", "function": ..., "stats": {...}}``,
    with values that JSON can hold (``Decimal`` as numbers, non-finite floats and other objects as text).

    :param stats: The Processor's ``get_stats()``.
    :param function: The Lambda function's name (as text).
    """
    safe = json.loads(json.dumps({str(k): (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
                                  for k, v in stats.items()}, default=_json_value))
    return {"message": "stats", "function": None if function is None else str(function), "stats": safe}


def log_stats(log: Any, stats: Mapping[str, Any], function: Optional[str] = None,
              level: int = logging.INFO) -> Dict[str, Any]:
    """Log a Processor's stats as one structured record (:func:`stats_record`). The message is the record as JSON
    text, so that a plain text log line is a JSON object too; ``function`` and ``stats`` also go as ``extra``, where
    a JSON formatter (Lambda's JSON log format, Powertools' ``Logger``) takes them as keys of its own record.

    :param log: The logger to write to: a ``logging.Logger``, or anything with its ``log`` method.
    :param stats: The Processor's ``get_stats()``.
    :param function: The Lambda function's name.
    :param level: The log level.
    :return: The record logged.

    .. code-block:: python

        log_stats(logging.getLogger('sosw.app'), {'tasks_invoked': 3}, function='sosw_orchestrator')
        # {"function": "sosw_orchestrator", "message": "stats", "stats": {"tasks_invoked": 3}}
    """
    record = stats_record(stats, function)
    log.log(level, json.dumps(record, sort_keys=True), extra={"function": record["function"], "stats": record["stats"]})
    return record
