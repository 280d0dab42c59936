"""The tutorial job, chunked by the Scheduler without touching AWS: one task per (word, day), 36 in all."""

import datetime
import json
from pathlib import Path
from unittest import mock

import sosw.app
from sosw.scheduler import Scheduler

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TASK_JSON = EXAMPLES / "workers/sosw_tutorial_pull_tweeter_hashtags/config/task.json"


class PinnedScheduler(Scheduler):
    """The real Scheduler's chunking, without AWS clients and with "today" pinned, so the dates below never change."""

    DEFAULT_CONFIG = {**Scheduler.DEFAULT_CONFIG, "init_clients": []}

    def today_date(self):
        return datetime.date(2026, 11, 23)


# No config table here: every config row reads as empty, and the Scheduler gets its config from this file.
with mock.patch.object(sosw.app, "get_config", return_value={}):
    scheduler = PinnedScheduler(custom_config={"job_schema": {"chunkable_attrs": ["topic", "word"]}})

event = json.loads(TASK_JSON.read_text())
job = scheduler.extract_job_from_payload(event)
tasks = scheduler.construct_job_data(job)

for task in tasks[:3]:
    print(task)
# {'date_list': ['2026-11-21'], 'topics': ['cars'], 'words': ['toyota']}
# {'date_list': ['2026-11-21'], 'topics': ['cars'], 'words': ['mazda']}
# {'date_list': ['2026-11-21'], 'topics': ['cars'], 'words': ['nissan']}

assert len(tasks) == 18 * 2 == 36
assert tasks[0] == {"topics": ["cars"], "words": ["toyota"], "date_list": ["2026-11-21"]}
assert {task["date_list"][0] for task in tasks} == {"2026-11-21", "2026-11-22"}  # last_2_days: T-2 and T-1
assert all(len(task["words"]) == 1 and len(task["date_list"]) == 1 for task in tasks)
