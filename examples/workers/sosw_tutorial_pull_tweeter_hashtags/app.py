"""
Tutorial Worker of sosw: how often was a hashtag used on a day? One row per (word, date) in the table
``sosw_tutorial_pull_tweeter_hashtags``: ``{"word", "date", "topic", "count", "source"}``.

The task event is a chunk of the tutorial job plus ``task_id``, e.g.::

    {"topics": {"cars": {"words": ["toyota"]}}, "date_list": ["2026-11-21"], "task_id": "..."}

Words may also come as a top-level ``words`` list (no topic); every word is counted for every date.

Where the counts come from:

- With ``bearer_token`` in the config row ``sosw_tutorial_pull_tweeter_hashtags_config``: the platform's recent counts
  API (``counts_api`` in the config: endpoint, query template, ...), over HTTPS with urllib. The row says
  ``"source": "api"``. If the request fails (network, HTTP error, unreadable answer) the row is stored all the same,
  with ``count`` null (DynamoDB leaves the attribute out) and an ``error`` saying why: the task still completes.
- Without credentials: ``sample_posts.json`` next to this file. A date counts the posts listed under its weekday, so
  any date has data and every run gives the same counts. The row says ``"source": "sample"``.

The counting functions take their inputs as arguments (no AWS, no global state) so that tests can call them directly.
"""

import datetime
import http.client
import json
import logging
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from sosw.app import LambdaGlobals, get_lambda_handler
from sosw.worker import Worker

logger = logging.getLogger(__name__)

SAMPLE_POSTS = Path(__file__).resolve().with_name("sample_posts.json")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RESULTS_TABLE = "sosw_tutorial_pull_tweeter_hashtags"

#: Opens an HTTP request and returns a response with ``read()``; ``urllib.request.urlopen`` or a test double.
Opener = Callable[..., Any]


def words_of(event: Mapping[str, Any]) -> List[Tuple[Optional[str], str]]:
    """The (topic, word) pairs of a task event, in their order.

    :param event: ``{"topics": {topic: {"words": [...]}}}`` and/or ``{"words": [...]}``. The Scheduler's chunks
        name their topic in a list beside the words: ``{"topics": ["cars"], "words": ["toyota"]}``; top-level words
        belong to that topic when there is exactly one, else to none.
    :return: The pairs; a word given under two topics appears twice.
    """
    pairs: List[Tuple[Optional[str], str]] = []
    topics = event.get("topics") or {}
    if isinstance(topics, Mapping):
        for topic, body in topics.items():
            words = body.get("words", []) if isinstance(body, Mapping) else body
            pairs.extend((topic, word) for word in _as_list(words))
        named = []
    else:
        named = _as_list(topics)
    topic_of_words = named[0] if len(named) == 1 else None
    pairs.extend((topic_of_words, word) for word in _as_list(event.get("words")))
    return pairs


def _as_list(value: Any) -> List[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def dates_of(event: Mapping[str, Any], today: Optional[datetime.date] = None) -> List[str]:
    """The dates of a task event (``date_list``); a job without ``period`` has none, and then it is today (UTC).

    :param event: The task event.
    :param today: Today, for tests.
    :return: Dates as ``YYYY-MM-DD``.
    """
    dates = _as_list(event.get("date_list"))
    return dates or [(today or datetime.datetime.now(datetime.timezone.utc).date()).isoformat()]


def hashtag_pattern(word: str) -> "re.Pattern[str]":
    """``#word`` as a whole tag, any case: ``#Car`` counts for ``car``, ``#cars`` and ``#car_wash`` do not."""
    return re.compile(rf"(?<![\w#])#{re.escape(word)}(?!\w)", re.IGNORECASE)


def count_in_sample(posts_by_weekday: Mapping[str, Sequence[str]], word: str, date: str) -> int:
    """Posts of the date's weekday that carry the hashtag ``#word``.

    :param posts_by_weekday: ``{"monday": [post, ...], ...}`` as in ``sample_posts.json``.
    :param word: The word, without ``#``.
    :param date: ``YYYY-MM-DD``.
    :return: The number of posts.
    :raises ValueError: When the date is not ``YYYY-MM-DD``.
    """
    weekday = WEEKDAYS[datetime.date.fromisoformat(date).weekday()]
    pattern = hashtag_pattern(word)
    return sum(1 for post in posts_by_weekday.get(weekday, []) if pattern.search(post))


def load_sample_posts(path: Path = SAMPLE_POSTS) -> Dict[str, List[str]]:
    """``posts_by_weekday`` of the sample file."""
    return json.loads(path.read_text())["posts_by_weekday"]


def _api_time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def count_via_api(
    word: str,
    date: str,
    bearer_token: str,
    api: Mapping[str, Any],
    opener: Opener = urllib.request.urlopen,
    now: Optional[datetime.datetime] = None,
) -> int:
    """Posts with ``#word`` on ``date`` according to the platform's recent counts API, following ``next_token``.

    :param word: The word, without ``#``.
    :param date: ``YYYY-MM-DD`` (UTC day).
    :param bearer_token: The app's bearer token.
    :param api: ``endpoint``, ``query`` (a template with ``{word}``), ``granularity``, ``timeout`` (s), ``max_pages``.
    :param opener: Sends the request; ``urllib.request.urlopen`` by default.
    :param now: The current time (UTC), for tests.
    :return: The total count.
    :raises OSError: On network and HTTP errors (``urllib.error.URLError`` is one).
    :raises http.client.HTTPException: When the connection breaks mid-answer.
    :raises ValueError: When the answer is no JSON or has no counts.
    """
    start = datetime.datetime.combine(datetime.date.fromisoformat(date), datetime.time(), datetime.timezone.utc)
    # The API refuses an end_time less than 10 seconds in the past: today is counted up to now.
    current = now or datetime.datetime.now(datetime.timezone.utc)
    end = min(start + datetime.timedelta(days=1), current - datetime.timedelta(seconds=30))
    params = {
        "query": api["query"].format(word=word),
        "start_time": _api_time(start),
        "end_time": _api_time(end),
        "granularity": api.get("granularity", "day"),
    }
    total = 0
    for _page in range(int(api.get("max_pages", 10))):
        request = urllib.request.Request(
            f"{api['endpoint']}?{urllib.parse.urlencode(params)}",
            headers={"Authorization": f"Bearer {bearer_token}", "User-Agent": "sosw-tutorial"},
        )
        with opener(request, timeout=api.get("timeout", 10)) as response:
            answer = json.loads(response.read())
        if not isinstance(answer, dict) or ("data" not in answer and "meta" not in answer):
            raise ValueError(f"no counts in the answer: {json.dumps(answer)[:200]}")
        total += sum(int(bucket.get("tweet_count", 0)) for bucket in answer.get("data", []))
        next_token = answer.get("meta", {}).get("next_token")
        if not next_token:
            break
        params["next_token"] = next_token
    return total


def count_rows(
    event: Mapping[str, Any],
    config: Mapping[str, Any],
    posts_by_weekday: Optional[Mapping[str, Sequence[str]]] = None,
    opener: Opener = urllib.request.urlopen,
    today: Optional[datetime.date] = None,
) -> Iterator[Dict[str, Any]]:
    """One result row per (word, date) of the task event.

    :param event: The task event.
    :param config: The Worker's config: ``bearer_token`` and ``counts_api``.
    :param posts_by_weekday: The sample posts; read from ``sample_posts.json`` when needed and not given.
    :param opener: Sends API requests.
    :param today: Today, for events without dates.
    :return: Rows ``{"word", "date", "topic", "count", "source"}`` (+ ``"error"`` when the API failed).
    """
    token = config.get("bearer_token")
    if not token and posts_by_weekday is None:
        posts_by_weekday = load_sample_posts()
    for topic, word in words_of(event):
        for date in dates_of(event, today):
            row: Dict[str, Any] = {"word": word, "date": date, "topic": topic, "source": "api" if token else "sample"}
            if not token:
                row["count"] = count_in_sample(posts_by_weekday or {}, word, date)
                yield row
                continue
            try:
                row["count"] = count_via_api(word, date, token, config["counts_api"], opener)
            except (OSError, http.client.HTTPException, ValueError) as err:
                logger.warning("Counts API failed for %s on %s: %s", word, date, err)
                row.update(count=None, error=f"{type(err).__name__}: {err}")
            yield row


class Processor(Worker):
    """Counts hashtags for the words and dates of its task and stores one row per pair.

    .. code-block:: python

        processor = Processor(custom_config={"bearer_token": ""})
        processor({"words": ["car"], "date_list": ["2026-11-23"], "task_id": "t1"})
    """

    DEFAULT_CONFIG = {
        "init_clients": ["DynamoDb"],
        "dynamo_db_config": {
            "table_name": RESULTS_TABLE,
            "row_mapper": {"word": "S", "date": "S", "topic": "S", "count": "N", "source": "S", "error": "S"},
            "required_fields": ["word", "date"],
        },
        "bearer_token": "",
        "counts_api": {
            "endpoint": "https://api.twitter.com/2/tweets/counts/recent",
            "query": "#{word}",
            "granularity": "day",
            "timeout": 10,
            "max_pages": 10,
        },
    }

    dynamo_db_client = None

    def __call__(self, event: Dict[str, Any]) -> Any:
        rows = total = 0
        for row in count_rows(event, self.config):
            self.dynamo_db_client.put(row)
            rows += 1
            total += row["count"] or 0
            self.stats[f"rows_{row['source']}"] += 1
            if row.get("error"):
                self.stats["api_errors"] += 1
        self.result = {"rows": rows, "total_count": total}
        return super().__call__(event)


global_vars = LambdaGlobals()
lambda_handler = get_lambda_handler(Processor, global_vars)
