"""Every built-in ``period`` of a Scheduler job, and a period pattern of your own."""

import datetime
from unittest import mock

import sosw.app
from sosw.exceptions import InvalidJob
from sosw.scheduler import Scheduler

TODAY = datetime.date(2026, 11, 23)  # a Monday


class PinnedScheduler(Scheduler):
    """The real Scheduler without AWS clients, with "today" (UTC) pinned."""

    DEFAULT_CONFIG = {**Scheduler.DEFAULT_CONFIG, "init_clients": []}

    def today_date(self):
        return TODAY


class MyScheduler(PinnedScheduler):
    """Adds ``last_N_weeks``: patterns of your own are tried before the built-in ones."""

    def custom_period_patterns(self):
        return [(r"last_(\d+)_weeks", self.last_x_weeks)]

    def last_x_weeks(self, pattern):
        weeks = int(pattern.split("_")[1])
        return self.last_x_days(f"last_{7 * weeks}_days")


with mock.patch.object(sosw.app, "get_config", return_value={}):
    scheduler = MyScheduler()

PERIODS = {
    "today": ["2026-11-23"],
    "yesterday": ["2026-11-22"],
    "3_days_back": ["2026-11-20"],
    "last_3_days": ["2026-11-20", "2026-11-21", "2026-11-22"],  # T-3 ... T-1
    "previous_2_days": ["2026-11-19", "2026-11-20"],  # T-4 ... T-3: the 2 days before the last 2
    "last_week": [f"2026-11-{day}" for day in range(15, 22)],  # the last full week, Sunday 15 to Saturday 21
    "previous_week": [f"2026-11-{day:02d}" for day in range(8, 15)],  # the full week before it
}
for period, dates in PERIODS.items():
    assert scheduler.get_dates_for_period(period) == dates, period
    print(f"{period:<16} {dates}")

assert len(scheduler.get_dates_for_period("last_2_weeks")) == 14

try:
    scheduler.get_dates_for_period("last_fortnight")
except InvalidJob as err:
    assert err.field == "period"
else:
    raise AssertionError("an unknown period was accepted")
