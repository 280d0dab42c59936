"""TaskManager: the queue of a Labourer, from creation to archive, and what each table holds meanwhile."""

from sosw.managers.task import TaskManager

task_manager = TaskManager(custom_config={
    "read_labourer_timeout": False,
    "labourers": {"my_worker": {"max_simultaneous_invocations": 5, "duration": 60, "cooldown": 30}},
})
labourer = task_manager.get_labourer("my_worker")

# Create: one Query for the end of the queue, then BatchWriteItem, 25 tasks a request.
ids = task_manager.create_tasks(labourer, [{"day": f"2026-11-{day}"} for day in range(1, 31)])
assert len(ids) == 30

labourer, = task_manager.register_labourers(health=False)  # stamps start / invoked / expired for this run
assert task_manager.get_length_of_queue_for_labourer(labourer) == 30
head = task_manager.get_next_for_labourer(labourer, cnt=2)  # oldest greenfield first
assert [task["payload"] for task in head] == [{"day": "2026-11-1"}, {"day": "2026-11-2"}]
assert head[1]["greenfield"] - head[0]["greenfield"] == 1000  # greenfield_task_step

# Invoke: what the Orchestrator does before lambda:Invoke. Conditional: only a task still queued.
task_manager.mark_task_invoked(labourer, head[0])
assert task_manager.get_task_by_id(head[0]["task_id"])["attempts"] == 1
assert task_manager.get_count_of_running_tasks_for_labourer(labourer) == 1

# Complete: what the WorkerAssistant does when the Worker reports.
assert task_manager.mark_task_as_completed(head[0]["task_id"], stats={"rows": 3}, result={"total": 9}) is True
assert task_manager.mark_task_as_completed(head[0]["task_id"]) is False  # already completed: nothing changes
task = task_manager.get_task_by_id(head[0]["task_id"])
assert task["stat_rows"] == 3 and task["result_total"] == 9 and task["completed_at"] > 0

# Archive: what the Scavenger does, one transaction per group of tasks.
labourer, = task_manager.register_labourers(health=False)
completed = task_manager.get_completed_tasks_for_labourer(labourer)
assert task_manager.archive_many(completed) == [head[0]["task_id"]]

counts = task_manager.count_tasks_by_state(labourer)
print(counts)
assert counts == {"queued": 29, "completed": 0, "expired": 0, "running": 0, "retrying": 0, "closed": 1, "dead": 0}
