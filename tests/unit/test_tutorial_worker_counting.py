"""The counting logic of the tutorial Worker (examples/workers/sosw_tutorial_pull_tweeter_hashtags/app.py), without
AWS: the sample posts, the counts API behind a recording fake opener, and the Processor with recording clients."""

import datetime
import importlib.util
import io
import json
import urllib.error
import urllib.parse
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "examples" / "workers" / "sosw_tutorial_pull_tweeter_hashtags" / "app.py"
API = {"endpoint": "https://api.example.com/2/tweets/counts/recent", "query": "#{word}", "granularity": "day"}


@pytest.fixture(scope="module")
def app():
    spec = importlib.util.spec_from_file_location("tutorial_pull_tweeter_hashtags_app", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeOpener:
    """Answers each request with the next of ``answers`` (a dict becomes JSON; an exception is raised)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, request, timeout=None):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return io.BytesIO(json.dumps(answer).encode() if isinstance(answer, dict) else answer)

    def params(self, i=0):
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.requests[i].full_url).query))


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"topics": {"cars": {"words": ["toyota"]}}}, [("cars", "toyota")]),
        ({"topics": {"cars": {"words": ["toyota", "mazda"]}, "food": {"words": ["meal"]}}},
         [("cars", "toyota"), ("cars", "mazda"), ("food", "meal")]),
        ({"words": ["opera", "show"]}, [(None, "opera"), (None, "show")]),
        ({"topics": {"cars": {"words": "car"}}, "words": ["meal"]}, [("cars", "car"), (None, "meal")]),
        ({"task_id": "t1"}, []),
        # The Scheduler's chunk of the tutorial job.
        ({"topics": ["cars"], "words": ["toyota"], "date_list": ["2026-11-21"]}, [("cars", "toyota")]),
        ({"topics": ["cars", "food"], "words": ["meal"]}, [(None, "meal")]),
    ],
)
def test_words_of(app, event, expected):
    assert app.words_of(event) == expected


def test_dates_of(app):
    assert app.dates_of({"date_list": ["2026-11-21", "2026-11-22"]}) == ["2026-11-21", "2026-11-22"]
    assert app.dates_of({}, today=datetime.date(2026, 11, 23)) == ["2026-11-23"]


def test_hashtag_must_be_whole(app):
    posts = {"monday": ["#car", "#Car day", "my #cars", "#car_wash", "car", "#racing #car!", "##car"]}
    assert app.count_in_sample(posts, "car", "2026-11-23") == 3


def test_sample_counts_are_those_of_the_weekday(app):
    posts = app.load_sample_posts()
    assert set(posts) == set(app.WEEKDAYS) and all(posts.values())
    monday = sum(1 for post in posts["monday"] if "#concert" in post.split())
    assert monday > 0
    for date in ("2026-11-23", "2019-08-12", "2031-01-06"):  # Mondays
        assert app.count_in_sample(posts, "concert", date) == monday
    counts = {app.count_in_sample(posts, "concert", f"2026-11-{day}") for day in range(23, 30)}
    assert len(counts) > 1  # the weekdays differ


def test_count_rows_without_credentials_uses_the_sample(app):
    event = {"topics": {"shows": {"words": ["concert", "opera"]}}, "date_list": ["2026-11-21", "2026-11-22"]}
    rows = list(app.count_rows(event, {"bearer_token": ""}))
    posts = app.load_sample_posts()
    assert [(r["word"], r["date"]) for r in rows] == [
        ("concert", "2026-11-21"), ("concert", "2026-11-22"), ("opera", "2026-11-21"), ("opera", "2026-11-22")
    ]
    for row in rows:
        assert row["topic"] == "shows" and row["source"] == "sample" and "error" not in row
        assert row["count"] == app.count_in_sample(posts, row["word"], row["date"])
    assert rows == list(app.count_rows(event, {"bearer_token": ""}))


def test_count_via_api_asks_for_the_day_and_follows_pages(app):
    opener = FakeOpener(
        {"data": [{"tweet_count": 7}], "meta": {"next_token": "abc"}},
        {"data": [{"tweet_count": 5}], "meta": {"total_tweet_count": 5}},
    )
    now = datetime.datetime(2026, 11, 23, 12, tzinfo=datetime.timezone.utc)
    assert app.count_via_api("toyota", "2026-11-21", "T0KEN", API, opener, now=now) == 12

    assert opener.requests[0].get_header("Authorization") == "Bearer T0KEN"
    assert opener.requests[0].full_url.startswith(API["endpoint"] + "?")
    assert opener.params(0) == {"query": "#toyota", "start_time": "2026-11-21T00:00:00Z",
                                "end_time": "2026-11-22T00:00:00Z", "granularity": "day"}
    assert opener.params(1)["next_token"] == "abc"


def test_count_via_api_stops_today_before_now(app):
    opener = FakeOpener({"data": [], "meta": {"total_tweet_count": 0}})
    now = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.timezone.utc)
    assert app.count_via_api("car", "2026-11-23", "t", API, opener, now=now) == 0
    assert opener.params()["end_time"] == "2026-11-23T11:59:30Z"


@pytest.mark.parametrize(
    "failure, reason",
    [
        (urllib.error.URLError("Name or service not known"), "Name or service not known"),
        (TimeoutError("timed out"), "timed out"),
        (b"<html>bad gateway</html>", "JSONDecodeError"),
        ({"errors": [{"message": "Unauthorized"}]}, "no counts in the answer"),
    ],
)
def test_count_rows_stores_a_failed_request_with_its_reason(app, failure, reason):
    opener = FakeOpener(failure)
    config = {"bearer_token": "t", "counts_api": API}
    rows = list(app.count_rows({"words": ["car"], "date_list": ["2026-11-22"]}, config, opener=opener))
    assert len(rows) == 1
    assert rows[0]["count"] is None and rows[0]["source"] == "api"
    assert reason in rows[0]["error"]
