"""
The managers' settings: ``task_config`` and ``ecology_config`` parsed once, when the manager is built (as
s3transfer's ``TransferConfig``), so that a bad value fails there, naming the key, and not in the middle of a run.

.. code-block:: python

    settings = TaskSettings.from_config({'greenfield_task_step': 'x'})
    # ConfigError: task_config.greenfield_task_step: expected an integer of at least 1, got 'x'
"""

import copy
import dataclasses
import operator
import statistics
import types
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from sosw import constants
from sosw.components.helpers import to_bool
from sosw.exceptions import ConfigError, UnsupportedSetting

#: ``feeling_comparison_operator`` values: symbols, and the ``operator`` names that sosw 0.7.47 configs use.
OPERATORS: Dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}
OPERATORS.update({f"__{fn.__name__}__": fn for fn in list(OPERATORS.values())})
OPERATORS.update({fn.__name__: fn for fn in list(OPERATORS.values())})

#: How the datapoints of a window make one value, per CloudWatch statistic.
AGGREGATORS: Dict[str, Callable[[List[float]], float]] = {
    "Average": statistics.mean,
    "Maximum": max,
    "Minimum": min,
    "Sum": sum,
    "SampleCount": sum,
}

#: The TaskManager's ``DEFAULT_CONFIG``: the default of each key :class:`TaskSettings` reads.
TASK_DEFAULT_CONFIG: Dict[str, Any] = {
    "dynamo_db_config": {
        "table_name": constants.TASKS_TABLE,
        "index_greenfield": constants.TASKS_GREENFIELD_INDEX,
        "row_mapper": {"task_id": "S", "labourer_id": "S", "created_at": "N", "greenfield": "N", "attempts": "N",
                       "closed_at": "N", "completed_at": "N", "desired_launch_time": "N", "failed_attempts": "N",
                       "arn": "S", "payload": "S", "labourer_id_task_status": "S"},
        "required_fields": ["task_id", "labourer_id", "created_at", "greenfield"],
        "field_names": {"task_id": "task_id", "labourer_id": "labourer_id", "greenfield": "greenfield"},
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
    "dispatch_lease_seconds": 60,
}

#: Attributes of a task the TaskManager writes; ``dynamo_db_config.field_names`` may rename any of them.
TASK_FIELDS = ("task_id", "labourer_id", "created_at", "greenfield", "attempts", "closed_at", "completed_at",
               "desired_launch_time", "failed_attempts", "payload", "labourer_id_task_status")


def _key(prefix: Optional[str], name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _integer(value: Any, config_name: str, minimum: int = 0, text: bool = True) -> int:
    """A whole number of at least ``minimum``; with ``text``, also its text (hand-edited configs give ``"5"``)."""
    number: Any = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif text and isinstance(value, float) and value.is_integer():
        number = int(value)
    elif text and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value)
    if number is None or number < minimum:
        raise ConfigError(f"expected an integer of at least {minimum}, got {value!r}", config_name=config_name)
    return number


def _text(value: Any, config_name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"expected a name, got {value!r}", config_name=config_name)
    return value


def _flag(value: Any, config_name: str) -> bool:
    if not isinstance(value, str):
        return bool(value)
    try:
        return to_bool(value)
    except ValueError:
        raise ConfigError(f"expected true or false, got {value!r}", config_name=config_name) from None


def _mapping(value: Any, config_name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected {{name: settings}}, got {type(value).__name__}", config_name=config_name)
    return value


@dataclasses.dataclass(frozen=True)
class FieldNames:
    """The attribute names of tasks in the tables: each of :data:`TASK_FIELDS`, renamed by
    ``dynamo_db_config.field_names`` where it says so. :meth:`get` answers for any other key as well.

    .. code-block:: python

        fields = FieldNames.from_config({'task_id': 'id'})
        fields.task_id, fields.greenfield  # ('id', 'greenfield')
    """

    task_id: str = "task_id"
    labourer_id: str = "labourer_id"
    created_at: str = "created_at"
    greenfield: str = "greenfield"
    attempts: str = "attempts"
    closed_at: str = "closed_at"
    completed_at: str = "completed_at"
    desired_launch_time: str = "desired_launch_time"
    failed_attempts: str = "failed_attempts"
    payload: str = "payload"
    labourer_id_task_status: str = "labourer_id_task_status"
    renamed: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_config(cls, field_names: Any, config_name: str = "field_names") -> "FieldNames":
        """Parse ``dynamo_db_config.field_names``: ``{field: attribute name}``.

        :raises ConfigError: It is no mapping of names.
        """
        renamed = dict(_mapping(field_names, config_name))
        for key, value in renamed.items():
            _text(value, f"{config_name}.{key}")
        known = {name: renamed[name] for name in TASK_FIELDS if name in renamed}
        return cls(**known, renamed=types.MappingProxyType(renamed))

    def get(self, key: str) -> str:
        """The attribute name of ``key`` in the table.

        :param key: A field name, e.g. ``'task_id'``.
        """
        return self.renamed.get(key, key)


@dataclasses.dataclass(frozen=True)
class HealthRule:
    """The ``feelings`` of a health metric: thresholds by status, best status first, and the comparison that a
    value must pass against a threshold to earn its status.

    .. code-block:: python

        rule = HealthRule.from_metric({'feelings': {3: 50, 4: 25}, 'feeling_comparison_operator': '<='})
        rule.health(40)  # 3
    """

    operator_name: str
    compare: Callable[[Any, Any], bool]
    thresholds: Tuple[Tuple[int, float], ...]

    @classmethod
    def from_metric(cls, metric: Mapping[str, Any], config_name: Optional[str] = None) -> "HealthRule":
        """Parse ``feelings`` and ``feeling_comparison_operator`` (default ``'<='``) of a metric.

        :param metric: The health metric.
        :param config_name: Where the metric is in the config; errors name ``<config_name>.<key>``.
        :raises UnsupportedSetting: (an ``AttributeError``) an unknown operator.
        :raises ConfigError: (a ``ValueError``) malformed feelings, or thresholds not in the order of the statuses.
        """
        op_name = metric.get("feeling_comparison_operator", "<=")
        compare = OPERATORS.get(op_name) if isinstance(op_name, str) else None
        if compare is None:
            raise UnsupportedSetting(f"unsupported {op_name!r}; use one of {sorted(OPERATORS)}",
                                     config_name=_key(config_name, "feeling_comparison_operator"))
        feelings_key = _key(config_name, "feelings")
        try:
            feelings = {int(status): float(threshold) for status, threshold in metric.get("feelings", {}).items()}
        except (AttributeError, TypeError, ValueError):
            raise ConfigError(f"expected {{status: number}}, got {metric.get('feelings')!r}",
                              config_name=feelings_key) from None
        ordered = tuple(sorted(feelings.items(), reverse=True))
        for (higher, higher_threshold), (lower, lower_threshold) in zip(ordered, ordered[1:]):
            # A value meeting the lower status's threshold must not also meet the higher one's by construction.
            if compare(lower_threshold, higher_threshold):
                raise ConfigError(f"thresholds out of order for {op_name!r}: status {lower} has {lower_threshold}, "
                                  f"status {higher} has {higher_threshold}", config_name=feelings_key)
        return cls(operator_name=op_name, compare=compare, thresholds=ordered)

    def health(self, value: Any) -> int:
        """The best status whose threshold ``value`` passes, else 0 (Bad).

        :param value: The metric's value.
        """
        return next((status for status, threshold in self.thresholds if self.compare(value, threshold)), 0)


def check_statistics(params: Mapping[str, Any], config_name: Optional[str] = None) -> str:
    """The one statistic a metric asks of CloudWatch.

    :raises UnsupportedSetting: (an ``AssertionError``) none, several, or an unknown one.
    """
    stats = params.get("Statistics") or []
    if not isinstance(stats, (list, tuple)) or len(stats) != 1 or stats[0] not in AGGREGATORS:
        raise UnsupportedSetting(f"expected one of {sorted(AGGREGATORS)}, got {stats!r}",
                                 config_name=_key(config_name, "Statistics"))
    return str(stats[0])


def _health_metrics(value: Any, config_name: str) -> Dict[str, Any]:
    metrics = dict(_mapping(value, config_name))
    for name, metric in metrics.items():
        key = f"{config_name}.{name}"
        if not isinstance(metric, Mapping) or not isinstance(metric.get("details"), Mapping):
            raise ConfigError("a health metric needs 'details', 'feelings' and 'feeling_comparison_operator'",
                              config_name=key)
        HealthRule.from_metric(metric, key)
        if "Statistics" in metric["details"]:
            check_statistics(metric["details"], f"{key}.details")
    return metrics


@dataclasses.dataclass(frozen=True)
class LabourerSettings:
    """One entry of ``labourers``: its id and its settings, checked (see :class:`~sosw.labourer.Labourer`)."""

    id: Any
    settings: Mapping[str, Any]

    @classmethod
    def from_config(cls, labourer_id: Any, settings: Any, config_name: str) -> "LabourerSettings":
        """Check one Labourer's settings.

        :raises ConfigError: Naming the setting at fault.
        """
        if not isinstance(settings, Mapping):
            raise ConfigError(f"expected a dict of settings, got {settings!r}", config_name=config_name)
        for name in ("max_simultaneous_invocations", "duration", "cooldown", "max_attempts"):
            if settings.get(name) is not None:
                _integer(settings[name], f"{config_name}.{name}", text=False)
        if settings.get("arn") is not None:
            _text(settings["arn"], f"{config_name}.arn")
        _health_metrics(settings.get("health_metrics"), f"{config_name}.health_metrics")
        return cls(id=labourer_id, settings=types.MappingProxyType(copy.deepcopy(dict(settings))))

    def attributes(self) -> Dict[str, Any]:
        """The keyword arguments of its :class:`~sosw.labourer.Labourer`, a fresh copy each time."""
        return {key: copy.deepcopy(value) for key, value in self.settings.items() if key != "id"}


@dataclasses.dataclass(frozen=True)
class TaskSettings:
    """The TaskManager's config, checked. Built by :meth:`from_config`; see ``TaskManager.DEFAULT_CONFIG`` for the
    keys and their defaults.

    .. code-block:: python

        settings = TaskSettings.from_config(task_manager.config)
        settings.tasks_table, settings.greenfield_task_step  # ('sosw_tasks', 1000)
    """

    tasks_table: str = constants.TASKS_TABLE
    greenfield_index: str = constants.TASKS_GREENFIELD_INDEX
    closed_table: str = constants.CLOSED_TASKS_TABLE
    closed_status_index: str = constants.CLOSED_TASKS_STATUS_INDEX
    retry_table: str = constants.RETRY_TASKS_TABLE
    retry_greenfield_index: str = constants.RETRY_TASKS_GREENFIELD_INDEX
    fields: FieldNames = FieldNames()
    greenfield_invocation_delta: int = constants.GREENFIELD_INVOCATION_DELTA
    greenfield_task_step: int = constants.GREENFIELD_TASK_STEP
    labourers: Tuple[LabourerSettings, ...] = ()
    max_attempts: int = constants.DEFAULT_MAX_ATTEMPTS
    #: ``max_attempts_<labourer id>`` keys, by Labourer id as text.
    max_attempts_by_labourer: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: The default of Labourers that set no ``max_simultaneous_invocations``; None: the Orchestrator's.
    max_simultaneous_invocations: Optional[int] = None
    max_closed_to_analyse_for_duration: int = TASK_DEFAULT_CONFIG["max_closed_to_analyse_for_duration"]
    read_labourer_timeout: bool = TASK_DEFAULT_CONFIG["read_labourer_timeout"]
    invoke_threads: int = TASK_DEFAULT_CONFIG["invoke_threads"]
    transaction_attempts: int = TASK_DEFAULT_CONFIG["transaction_attempts"]
    #: Seconds a Labourer's dispatch lease lasts at most (a crashed holder blocks its Labourer no longer); 0: no
    #: lease, and ``max_simultaneous_invocations`` holds only for one dispatcher at a time.
    dispatch_lease_seconds: int = TASK_DEFAULT_CONFIG["dispatch_lease_seconds"]
    config_name: str = "task_config"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str = "task_config") -> "TaskSettings":
        """Parse the TaskManager's config.

        :param config: The config (defaults already merged); a missing key has the default of this class.
        :param config_name: Where it is (``task_config`` of an Essential's config), named in errors as
            ``<config_name>.<key>``.
        :raises ConfigError: A malformed value, e.g. ``transaction_attempts: 0``.
        """

        def key(name: str) -> str:
            return f"{config_name}.{name}"

        ddb = _mapping(config.get("dynamo_db_config"), key("dynamo_db_config"))
        labourers = _mapping(config.get("labourers"), key("labourers"))
        max_attempts = {name[len("max_attempts_"):]: _integer(value, key(name), 1)
                        for name, value in config.items() if name.startswith("max_attempts_") and value}
        limit = config.get("max_simultaneous_invocations")
        return cls(
            tasks_table=_text(ddb.get("table_name"), key("dynamo_db_config.table_name")),
            greenfield_index=_text(ddb.get("index_greenfield"), key("dynamo_db_config.index_greenfield")),
            closed_table=_text(config.get("sosw_closed_tasks_table", cls.closed_table), key("sosw_closed_tasks_table")),
            closed_status_index=_text(config.get("sosw_closed_tasks_labourer_status_index", cls.closed_status_index),
                                      key("sosw_closed_tasks_labourer_status_index")),
            retry_table=_text(config.get("sosw_retry_tasks_table", cls.retry_table), key("sosw_retry_tasks_table")),
            retry_greenfield_index=_text(config.get("sosw_retry_tasks_greenfield_index", cls.retry_greenfield_index),
                                         key("sosw_retry_tasks_greenfield_index")),
            fields=FieldNames.from_config(ddb.get("field_names"), key("dynamo_db_config.field_names")),
            greenfield_invocation_delta=_integer(config.get("greenfield_invocation_delta",
                                                            cls.greenfield_invocation_delta),
                                                 key("greenfield_invocation_delta"), 1),
            greenfield_task_step=_integer(config.get("greenfield_task_step", cls.greenfield_task_step),
                                          key("greenfield_task_step"), 1),
            labourers=tuple(LabourerSettings.from_config(name, settings, key(f"labourers.{name}"))
                            for name, settings in labourers.items()),
            max_attempts=_integer(config.get("max_attempts", cls.max_attempts), key("max_attempts"), 1),
            max_attempts_by_labourer=types.MappingProxyType(max_attempts),
            max_simultaneous_invocations=None if limit is None else _integer(
                limit, key("max_simultaneous_invocations")),
            max_closed_to_analyse_for_duration=_integer(
                config.get("max_closed_to_analyse_for_duration", cls.max_closed_to_analyse_for_duration),
                key("max_closed_to_analyse_for_duration"), 1),
            read_labourer_timeout=_flag(config.get("read_labourer_timeout", cls.read_labourer_timeout),
                                        key("read_labourer_timeout")),
            invoke_threads=_integer(config.get("invoke_threads", cls.invoke_threads), key("invoke_threads"), 1),
            transaction_attempts=_integer(config.get("transaction_attempts", cls.transaction_attempts),
                                          key("transaction_attempts"), 1),
            dispatch_lease_seconds=_integer(config.get("dispatch_lease_seconds", cls.dispatch_lease_seconds),
                                            key("dispatch_lease_seconds")),
            config_name=config_name,
        )

    def max_attempts_of(self, labourer_id: Any, own: Optional[int] = None) -> int:
        """Attempts before a task of the Labourer is closed as dead: ``max_attempts_<id>``, else the Labourer's own
        ``max_attempts``, else ``max_attempts``.

        :param labourer_id: The Labourer's id.
        :param own: The Labourer's own setting, if any.
        """
        return self.max_attempts_by_labourer.get(str(labourer_id)) or own or self.max_attempts


@dataclasses.dataclass(frozen=True)
class EcologySettings:
    """The EcologyManager's config, checked: ``default_metric_values``, the GetMetricStatistics arguments a
    health metric's ``details`` leave out (``MetricAggregationTimeSlice`` is the window in seconds).

    .. code-block:: python

        EcologySettings.from_config({'default_metric_values': {'Statistics': ['Median']}})
        # UnsupportedSetting: ecology_config.default_metric_values.Statistics: expected one of [...]
    """

    default_metric_values: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str = "ecology_config") -> "EcologySettings":
        """Parse the EcologyManager's config.

        :raises ConfigError: A malformed value, naming ``<config_name>.<key>``.
        """
        key = f"{config_name}.default_metric_values"
        defaults = dict(_mapping(config.get("default_metric_values"), key))
        for name in ("MetricAggregationTimeSlice", "Period"):
            if name in defaults:
                _integer(defaults[name], f"{key}.{name}", 1)
        if "Statistics" in defaults:
            check_statistics(defaults, key)
        return cls(default_metric_values=types.MappingProxyType(copy.deepcopy(defaults)))
