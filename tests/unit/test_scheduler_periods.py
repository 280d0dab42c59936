"""Scheduler periods and date chunking, table-driven, with a fixed "today": no AWS."""

import datetime

import pytest

from sosw.exceptions import InvalidJob
from sosw.scheduler import Scheduler
from sosw.scheduling.periods import BUILT_IN_PERIODS, Calendar, dates_for_period

SUNDAY = datetime.date(2026, 11, 22)
SATURDAY = datetime.date(2026, 11, 21)
WEDNESDAY = datetime.date(2026, 11, 18)
MONDAY = datetime.date(2026, 11, 23)


class OfflineScheduler(Scheduler):
    """The Scheduler's pure logic: no AWS clients."""

    DEFAULT_CONFIG = {**Scheduler.DEFAULT_CONFIG, "init_clients": []}

    def get_config(self, name):
        return {}  # no config rows: the test gives its config


def at(today: datetime.date, scheduler_class=OfflineScheduler) -> Scheduler:
    scheduler = scheduler_class()
    scheduler.today_date = lambda: today
    return scheduler


def days(first: str, last: str) -> list:
    start, end = datetime.date.fromisoformat(first), datetime.date.fromisoformat(last)
    return [(start + datetime.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


# (today, period, expected dates)
PERIOD_CASES = [
    (SUNDAY, "today", ["2026-11-22"]),
    (SUNDAY, "yesterday", ["2026-11-21"]),
    (SUNDAY, "0_days_back", ["2026-11-22"]),
    (SUNDAY, "1_day_back", ["2026-11-21"]),
    (SUNDAY, "7_days_back", ["2026-11-15"]),
    (SUNDAY, "last_1_days", ["2026-11-21"]),
    (SUNDAY, "last_1_day", ["2026-11-21"]),
    (SUNDAY, "last_2_days", ["2026-11-20", "2026-11-21"]),
    (SUNDAY, "last_3_days", ["2026-11-19", "2026-11-20", "2026-11-21"]),
    (datetime.date(2019, 4, 30), "previous_2_days", ["2019-04-26", "2019-04-27"]),
    (SUNDAY, "previous_3_days", ["2026-11-16", "2026-11-17", "2026-11-18"]),
    (SUNDAY, "last_week", days("2026-11-15", "2026-11-21")),
    (MONDAY, "last_week", days("2026-11-15", "2026-11-21")),
    (WEDNESDAY, "last_week", days("2026-11-08", "2026-11-14")),
    (SATURDAY, "last_week", days("2026-11-08", "2026-11-14")),
    (SUNDAY, "previous_week", days("2026-11-08", "2026-11-14")),
    (SATURDAY, "previous_week", days("2026-11-01", "2026-11-07")),
    (datetime.date(2026, 1, 2), "last_3_days", ["2025-12-30", "2025-12-31", "2026-01-01"]),
    (datetime.date(2024, 3, 1), "yesterday", ["2024-02-29"]),
    (datetime.date(2026, 1, 3), "last_week", days("2025-12-21", "2025-12-27")),
]


@pytest.mark.parametrize("today, period, expected", PERIOD_CASES,
                         ids=[f"{case[1]}@{case[0]:%a-%Y-%m-%d}" for case in PERIOD_CASES])
def test_periods(today, period, expected):
    assert at(today).get_dates_for_period(period) == expected


@pytest.mark.parametrize("method, pattern, expected", [
    ("today", "today", ["2026-11-22"]),
    ("yesterday", "yesterday", ["2026-11-21"]),
    ("x_days_back", "3_days_back", ["2026-11-19"]),
    ("last_x_days", "last_2_days", ["2026-11-20", "2026-11-21"]),
    ("previous_x_days", "previous_1_days", ["2026-11-20"]),
    ("last_week", "last_week", days("2026-11-15", "2026-11-21")),
    ("previous_week", "previous_week", days("2026-11-08", "2026-11-14")),
])
def test_period_methods_are_public(method, pattern, expected):
    assert getattr(at(SUNDAY), method)(pattern) == expected
    assert getattr(Calendar(SUNDAY), method)(pattern) == expected


@pytest.mark.parametrize("today, period, expected", PERIOD_CASES,
                         ids=[f"{case[1]}@{case[0]:%a-%Y-%m-%d}" for case in PERIOD_CASES])
def test_the_calendar_is_a_pure_function_of_today(today, period, expected):
    calendar = Calendar(today)
    built_in = [(regex, getattr(calendar, name)) for regex, name in BUILT_IN_PERIODS]
    assert dates_for_period(period, [], built_in) == expected


def test_period_methods_have_defaults():
    scheduler = at(SUNDAY)
    assert scheduler.today() == ["2026-11-22"]
    assert scheduler.yesterday() == ["2026-11-21"]
    assert scheduler.last_week() == days("2026-11-15", "2026-11-21")
    assert scheduler.previous_week() == days("2026-11-08", "2026-11-14")


@pytest.mark.parametrize("period", ["tomorrow", "last_0_days", "previous_0_days", "last_x_days", " today", "Today",
                                    "last_week_2", "today\n", "", 5, None, ["today"], "last_99999999_days"])
def test_unknown_period_is_an_invalid_job(period):
    with pytest.raises(InvalidJob) as error:
        at(SUNDAY).get_dates_for_period(period)
    assert error.value.field == "period"


def test_a_period_method_refuses_another_pattern():
    with pytest.raises(InvalidJob) as error:
        at(SUNDAY).last_x_days("today")
    assert error.value.field == "period"


def test_today_is_utc_by_default():
    before = datetime.datetime.now(datetime.timezone.utc).date()
    today = OfflineScheduler().today_date()
    after = datetime.datetime.now(datetime.timezone.utc).date()
    assert today in (before, after)


class MonthlyScheduler(OfflineScheduler):
    def custom_period_patterns(self):
        return [(r"last_(\d+)_weeks", self.last_x_weeks), (r"today", self.today_and_yesterday)]

    def last_x_weeks(self, pattern):
        return self.last_x_days(f"last_{7 * int(pattern.split('_')[1])}_days")

    def today_and_yesterday(self, pattern):
        return self.yesterday() + self.today()


def test_custom_period_patterns_come_before_the_built_in_ones():
    scheduler = at(SUNDAY, MonthlyScheduler)
    assert scheduler.get_dates_for_period("last_2_weeks") == days("2026-11-08", "2026-11-21")
    assert scheduler.get_dates_for_period("today") == ["2026-11-21", "2026-11-22"]
    assert scheduler.get_dates_for_period("last_2_days") == ["2026-11-20", "2026-11-21"]
    with pytest.raises(InvalidJob, match=r"last_\(\\d\+\)_weeks"):
        scheduler.get_dates_for_period("last_2_months")


def test_custom_period_method_returning_bad_dates_is_an_invalid_job():
    class Broken(OfflineScheduler):
        def custom_period_patterns(self):
            return [(r"broken", lambda pattern: ["22.11.2026"])]

    with pytest.raises(InvalidJob) as error:
        at(SUNDAY, Broken).get_dates_for_period("broken")
    assert error.value.field == "period"


# Date chunking ------------------------------------------------------------------------------------------------

# (job, expected jobs)
CHUNK_DATES_CASES = [
    ({"a": 1}, [{"a": 1}]),
    ({"period": "last_2_days", "a": 1}, [{"a": 1, "date_list": ["2026-11-20", "2026-11-21"]}]),
    ({"period": "last_2_days", "isolate_days": True},
     [{"date_list": ["2026-11-20"]}, {"date_list": ["2026-11-21"]}]),
    ({"period": "last_3_days", "max_days_per_batch": 2},
     [{"date_list": ["2026-11-19", "2026-11-20"]}, {"date_list": ["2026-11-21"]}]),
    ({"date_list": ["2026-01-05", "2025-12-31"]}, [{"date_list": ["2026-01-05", "2025-12-31"]}]),
    ({"date_list": ("2026-01-05", "2025-12-31"), "isolate_days": True},
     [{"date_list": ["2026-01-05"]}, {"date_list": ["2025-12-31"]}]),
]


@pytest.mark.parametrize("job, expected", CHUNK_DATES_CASES)
def test_chunk_dates(job, expected):
    assert at(SUNDAY).chunk_dates(job) == expected


def test_chunk_dates_skeleton_wins():
    assert at(SUNDAY).chunk_dates({"period": "today", "a": 1, "b": 1}, skeleton={"b": 2}) == [
        {"a": 1, "b": 2, "date_list": ["2026-11-22"]}]


def test_construct_job_data_drops_the_date_controls():
    assert at(SUNDAY).construct_job_data({"lambda_name": "w", "period": "last_2_days", "isolate_days": True}) == [
        {"date_list": ["2026-11-20"]}, {"date_list": ["2026-11-21"]}]


@pytest.mark.parametrize("job, field", [
    ({"date_list": ["2026-13-01"]}, "date_list"),
    ({"date_list": ["2026/11/01"]}, "date_list"),
    ({"date_list": ["2026-02-30"]}, "date_list"),
    ({"date_list": ["2026-1-5"]}, "date_list"),
    ({"date_list": [20261101]}, "date_list"),
    ({"date_list": []}, "date_list"),
    ({"date_list": "2026-11-01"}, "date_list"),
    ({"period": "today", "date_list": ["2026-11-01"]}, "period"),
    ({"period": "fortnight"}, "period"),
    ({"isolate_days": True}, "isolate_days"),
    ({"max_days_per_batch": 2}, "max_days_per_batch"),
    ({"period": "today", "isolate_days": "maybe"}, "isolate_days"),
    ({"period": "today", "max_days_per_batch": -1}, "max_days_per_batch"),
])
def test_chunk_dates_errors_name_the_field(job, field):
    with pytest.raises(InvalidJob) as error:
        at(SUNDAY).chunk_dates(job)
    assert error.value.field == field
