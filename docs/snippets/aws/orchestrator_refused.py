"""An invocation that Lambda refuses burns no attempt: the task goes back to the queue as it was."""

from sosw.managers.task import TaskManager
from sosw.orchestrator import Orchestrator

# "ghost_worker" is configured as a Labourer, but no such function exists: every lambda:Invoke fails.
config = {"task_config": {"labourers": {"ghost_worker": {"max_simultaneous_invocations": 2}}}}
task_manager = TaskManager(custom_config=config["task_config"])
task_ids = task_manager.create_tasks(task_manager.get_labourer("ghost_worker"), [{"n": 1}, {"n": 2}, {"n": 3}])

orchestrator = Orchestrator(custom_config=config)
assert orchestrator({}) == {"ghost_worker": 0}  # how many were invoked, per Labourer
assert orchestrator.get_stats()["invocation_failures"] == 2

labourer = task_manager.get_labourer("ghost_worker")
assert task_manager.get_length_of_queue_for_labourer(labourer) == 3  # all still queued...
assert [task["task_id"] for task in task_manager.get_next_for_labourer(labourer, cnt=3)] == task_ids  # in order
assert all(task_manager.get_task_by_id(task_id)["attempts"] == 0 for task_id in task_ids)  # no attempt burned
