"""
The calendar of job periods: ``period`` names (``last_3_days``, ``previous_week``, ...) turned into dates, given
today. Pure: "today" is passed in, so every period is a function of it (the Scheduler passes
``datetime.date.today()``, looked up at every call through ``sosw.scheduler.datetime``, which users patch).

.. code-block:: python

    import datetime
    from sosw.scheduling.periods import Calendar

    Calendar(datetime.date(2026, 11, 22)).last_x_days('last_3_days')  # ['2026-11-19', '2026-11-20', '2026-11-21']
"""

import dataclasses
import datetime
import inspect
import re
from typing import Any, Callable, List, Sequence, Tuple

from sosw.exceptions import InvalidJob, SchedulerConfigError

__all__ = ["BUILT_IN_PERIODS", "Calendar", "PeriodMethod", "bind_period_methods", "dates_for_period",
           "parse_period_patterns", "validate_dates"]

#: A period method: takes the period as given in the job, returns dates as ``YYYY-MM-DD``.
PeriodMethod = Callable[[str], List[str]]

#: Built-in periods: (regular expression matched in full, name of the :class:`Calendar` method that expands it).
BUILT_IN_PERIODS: Tuple[Tuple[str, str], ...] = (
    (r"today", "today"),
    (r"yesterday", "yesterday"),
    (r"(\d+)_days?_back", "x_days_back"),
    (r"last_(\d+)_days?", "last_x_days"),
    (r"previous_(\d+)_days?", "previous_x_days"),
    (r"last_week", "last_week"),
    (r"previous_week", "previous_week"),
)
_PERIOD_REGEX = {name: regex for regex, name in BUILT_IN_PERIODS}
_PERIOD_NAMES = "today, yesterday, N_days_back, last_N_days, previous_N_days, last_week, previous_week"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_METHOD_NAME = re.compile(r"[A-Za-z_]\w*")


def validate_dates(dates: Any, field: str) -> List[str]:
    """``dates`` as a list, checked: a non-empty list (or tuple) of real ``YYYY-MM-DD`` dates.

    :param dates: What a job or a period method gave.
    :param field: The job's field it came from, for the error.
    :raises InvalidJob: Naming ``field``.
    """
    if not isinstance(dates, (list, tuple)) or not dates:
        raise InvalidJob(f"expected a non-empty list of YYYY-MM-DD dates, got {dates!r}", field=field, value=dates)
    for day in dates:
        valid = isinstance(day, str) and bool(_DATE.fullmatch(day))
        try:
            valid = valid and bool(datetime.date.fromisoformat(day))
        except ValueError:
            valid = False
        if not valid:
            raise InvalidJob(f"expected YYYY-MM-DD dates, got {day!r}", field=field, value=day)
    return list(dates)


def _period_number(pattern: Any, method: str, minimum: int = 1) -> int:
    """The number of days in ``pattern``, a period for the built-in ``method`` (0 if it has no number)."""
    match = re.fullmatch(_PERIOD_REGEX[method], pattern) if isinstance(pattern, str) else None
    if not match:
        raise InvalidJob(f"{pattern!r} is no period for {method}()", field="period", value=pattern)
    number = int(match[1]) if match.groups() else 0
    if number < minimum:
        raise InvalidJob(f"{pattern!r}: the number of days must be at least {minimum}", field="period", value=pattern)
    return number


@dataclasses.dataclass(frozen=True)
class Calendar:
    """The built-in periods, counted from ``day`` (today). Each method takes the period as the job gives it and
    refuses a period of another kind (``InvalidJob`` with field ``period``).

    :param day: Today: the day every period counts from.

    .. code-block:: python

        Calendar(datetime.date(2026, 11, 22)).last_week()  # ['2026-11-15', ..., '2026-11-21']
    """

    day: datetime.date

    def days(self, first_back: int, last_back: int) -> List[str]:
        """Dates from ``first_back`` down to ``last_back`` days before today, ascending."""
        return [(self.day - datetime.timedelta(days=back)).isoformat() for back in range(first_back, last_back - 1, -1)]

    def today(self, pattern: str = "today") -> List[str]:
        """``[today]``."""
        _period_number(pattern, "today", minimum=0)
        return self.days(0, 0)

    def yesterday(self, pattern: str = "yesterday") -> List[str]:
        """``[today - 1]``."""
        _period_number(pattern, "yesterday", minimum=0)
        return self.days(1, 1)

    def x_days_back(self, pattern: str) -> List[str]:
        """``N_days_back``: ``[today - N]``."""
        days = _period_number(pattern, "x_days_back", minimum=0)
        return self.days(days, days)

    def last_x_days(self, pattern: str) -> List[str]:
        """``last_N_days``: the N days before today, ``today - N`` ... ``today - 1``."""
        days = _period_number(pattern, "last_x_days")
        return self.days(days, 1)

    def previous_x_days(self, pattern: str) -> List[str]:
        """``previous_N_days``: the N days before the last N days, ``today - 2N`` ... ``today - N - 1``."""
        days = _period_number(pattern, "previous_x_days")
        return self.days(2 * days, days + 1)

    def _last_saturday_back(self) -> int:
        """Days back to the Saturday that ended the last full Sunday-Saturday week (a week is full once over)."""
        return (self.day.weekday() - 5) % 7 or 7

    def last_week(self, pattern: str = "last_week") -> List[str]:
        """The last full week, Sunday to Saturday, before today."""
        _period_number(pattern, "last_week", minimum=0)
        saturday = self._last_saturday_back()
        return self.days(saturday + 6, saturday)

    def previous_week(self, pattern: str = "previous_week") -> List[str]:
        """The full Sunday-Saturday week before :meth:`last_week`."""
        _period_number(pattern, "previous_week", minimum=0)
        saturday = self._last_saturday_back() + 7
        return self.days(saturday + 6, saturday)


def dates_for_period(period: Any, custom: Sequence[Tuple[str, PeriodMethod]],
                     built_in: Sequence[Tuple[str, PeriodMethod]]) -> List[str]:
    """The dates of ``period``: the method of the first pattern that matches it in full, the ``custom`` ones first.

    :param period: The job's ``period``.
    :param custom: ``(regular expression, method)`` pairs of periods of your own.
    :param built_in: The same for :data:`BUILT_IN_PERIODS`.
    :raises InvalidJob: An unknown period, or a method that gave no valid dates (``field`` is ``period``).
    """
    if isinstance(period, str):
        for regex, method in [*custom, *built_in]:
            if re.fullmatch(regex, period):
                try:
                    dates = method(period)
                except OverflowError:
                    raise InvalidJob(f"{period!r} reaches beyond the calendar", field="period") from None
                return validate_dates(dates, "period")
    names = "".join(f", {regex}" for regex, _ in custom)
    raise InvalidJob(f"unknown period {period!r}; use one of {_PERIOD_NAMES}{names}", field="period", value=period)


def parse_period_patterns(patterns: Any, config_name: str) -> Tuple[str, ...]:
    """Config ``custom_period_patterns``: a list of regular expressions, checked.

    :param patterns: The config value (None: no patterns).
    :param config_name: Where it is in the config, for the error.
    :raises SchedulerConfigError: Not a list, or an item is no regular expression.
    """
    if not isinstance(patterns, (list, tuple)):
        if patterns:
            raise SchedulerConfigError(f"expected a list of patterns, got {type(patterns).__name__}",
                                       config_name=config_name)
        return ()
    for pattern in patterns:
        try:
            re.compile(pattern)
        except (TypeError, re.error) as err:
            raise SchedulerConfigError(f"expected a regular expression, got {pattern!r} ({err})",
                                       config_name=config_name) from None
    return tuple(patterns)


def _takes_period(method: Callable[..., List[str]]) -> PeriodMethod:
    """``method`` as a function of the period: the original called methods without arguments too."""
    try:
        inspect.signature(method).bind("period")
    except TypeError:
        return lambda period: method()
    return method


def bind_period_methods(patterns: Sequence[str], owner: object, config_name: str) -> List[Tuple[str, PeriodMethod]]:
    """The ``(expression, method)`` pairs of configured patterns, named as the original named them: the expression
    with its first ``[0-9]+`` replaced by ``x`` is the name of a method of ``owner`` (``'last_[0-9]+_weeks'`` calls
    ``last_x_weeks``), which takes the period or no argument.

    :param patterns: Checked regular expressions (see :func:`parse_period_patterns`).
    :param owner: The object whose methods they name (the Scheduler).
    :param config_name: Where the patterns are in the config, for the error.
    :raises SchedulerConfigError: A pattern names no method of ``owner``.
    """
    pairs = []
    for pattern in patterns:
        name = pattern.replace("[0-9]+", "x", 1)
        method = getattr(owner, name, None) if _METHOD_NAME.fullmatch(name) else None
        if not callable(method):
            raise SchedulerConfigError(f"{pattern!r} names no method {name!r} of {type(owner).__name__}",
                                       config_name=config_name)
        pairs.append((pattern, _takes_period(method)))
    return pairs
