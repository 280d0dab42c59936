"""The events the WorkerAssistant accepts, and the errors that name the field of a malformed one."""

from unittest import mock

import sosw.app
from sosw.exceptions import InvalidEvent
from sosw.worker_assistant import WorkerAssistant

with mock.patch.object(sosw.app, "get_config", return_value={}):
    assistant = WorkerAssistant()

# What a Worker sends (Worker.mark_task_as_completed builds it for you):
good = {"action": "mark_task_as_completed", "task_id": "3f2a9c", "stats": {"rows": 12}, "result": {"total": 6}}
assert set(good) <= {"action", "task_id", "stats", "result"}

# Malformed events are refused before any AWS call, with the field at fault.
for event, field in [
    ({"task_id": "3f2a9c"}, "action"),
    ({"action": "mark_task_as_done", "task_id": "3f2a9c"}, "action"),
    ({"action": "mark_task_as_completed"}, "task_id"),
    ({"action": "mark_task_as_completed", "task_id": "3f2a9c", "stats": [1, 2]}, "stats"),
    ("not json", "event"),
]:
    try:
        assistant(event)
    except InvalidEvent as err:
        assert err.field == field, (err.field, field)
        print(f"InvalidEvent: {err}")
    else:
        raise AssertionError(f"{event!r} was accepted")
