"""The WorkerAssistant's answers: completed, already completed, failed, and not found (no orphan row)."""

from sosw.managers.task import TaskManager
from sosw.scavenger import Scavenger
from sosw.worker_assistant import WorkerAssistant

config = {"task_config": {"read_labourer_timeout": False, "labourers": {"my_worker": {}}}}
task_manager = TaskManager(custom_config=config["task_config"])
first, second = task_manager.create_tasks(task_manager.get_labourer("my_worker"), [{"n": 1}, {"n": 2}])
labourer, = task_manager.register_labourers(health=False)
for task in task_manager.get_next_for_labourer(labourer, cnt=2):
    task_manager.mark_task_invoked(labourer, task)  # as the Orchestrator does before invoking the Worker

assistant = WorkerAssistant(custom_config=config)
report = {"action": "mark_task_as_completed", "task_id": first, "stats": {"rows": 3}, "result": {"total": 6}}
assert assistant(report) == {"task_id": first, "status": "completed"}
assert assistant(report) == {"task_id": first, "status": "already_completed"}  # Lambda retried the Worker: harmless

# A failed attempt makes the task expire at once: the Scavenger retries it (or buries it) at its next run.
failed = {"action": "mark_task_as_failed", "task_id": second, "result": {"error": "HTTP 503"}}
assert assistant(failed) == {"task_id": second, "status": "failed"}

Scavenger(custom_config={**config, "min_retry_delay": 3600})({})  # archives the first, moves the second to retry

# A late duplicate for a task already archived as completed changes nothing and says so.
assert assistant(report) == {"task_id": first, "status": "already_completed"}
assert task_manager.get_task_by_id(first) is None  # no orphan row in sosw_tasks
assert task_manager.count_tasks_by_state(labourer)["retrying"] == 1  # the failed one waits for its retry
