"""The task event log: with ``meta_handler_config``, every change of a task leaves an event in sosw_tasks_meta."""

from sosw.managers.meta_handler import MetaHandler
from sosw.managers.task import TaskManager

task_manager = TaskManager(custom_config={
    "read_labourer_timeout": False,
    "labourers": {"my_worker": {}},
    "meta_handler_config": {"dynamo_db_config": {"table_name": "sosw_tasks_meta"}},  # turns the log on
})
labourer = task_manager.get_labourer("my_worker")
task_id, = task_manager.create_tasks(labourer, [{"n": 1}])  # 'created' rides in the same BatchWriteItem

labourer, = task_manager.register_labourers(health=False)
task = task_manager.get_next_for_labourer(labourer)[0]
task_manager.mark_task_invoked(labourer, task)  # 'invoked' is written just after the update
task_manager.mark_task_as_completed(task_id)  # one UpdateItem; its event is written when the task is archived
labourer, = task_manager.register_labourers(health=False)
task_manager.archive_many(task_manager.get_completed_tasks_for_labourer(labourer))  # 'completed' + 'archived'

events = MetaHandler(custom_config={"dynamo_db_config": {"table_name": "sosw_tasks_meta"}}).get_task_events(task_id)
print([event["action"] for event in events])
assert [event["action"] for event in events] == ["created", "invoked", "completed", "archived"]
completed_at = task_manager.dynamo_db_client.get_by_key({"task_id": task_id}, table_name="sosw_closed_tasks",
                                                        fetch_all_fields=True)["completed_at"]
assert events[2]["completed_at"] == completed_at  # the 'completed' event carries the time of completion
