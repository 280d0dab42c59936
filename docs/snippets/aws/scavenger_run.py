"""One Scavenger run archives completed tasks, moves failed ones to retry or buries them; a later run retries."""

import json
import time
from unittest import mock

import boto3

from sosw.managers.task import TaskManager
from sosw.scavenger import Scavenger

# Dead tasks are announced on SNS (topic SoswWorkerErrors by default); an SQS queue subscribed to it shows them.
sns, sqs = boto3.client("sns"), boto3.client("sqs")
topic_arn = sns.create_topic(Name="SoswWorkerErrors")["TopicArn"]
queue_url = sqs.create_queue(QueueName="dead-tasks")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

config = {"task_config": {"read_labourer_timeout": False, "labourers": {
    "my_worker": {"max_attempts": 2},
    "fragile_worker": {"max_attempts": 1},
}}}
task_manager = TaskManager(custom_config=config["task_config"])
done, failed = task_manager.create_tasks(task_manager.get_labourer("my_worker"), [{"n": 1}, {"n": 2}])
doomed, = task_manager.create_tasks(task_manager.get_labourer("fragile_worker"), [{"n": 3}])
for labourer in task_manager.register_labourers(health=False):
    for task in task_manager.get_next_for_labourer(labourer, cnt=10):
        task_manager.mark_task_invoked(labourer, task)  # attempt 1 of each
task_manager.mark_task_as_completed(done)
task_manager.mark_task_as_failed(failed)  # what a Worker's mark_task_as_failed leads to
task_manager.mark_task_as_failed(doomed)

scavenger = Scavenger(custom_config=config)
counts = scavenger({})
print(counts)
assert counts == {"tasks_archived": 1, "tasks_moved_to_retry": 1, "tasks_archived_dead": 1}

closed = {item["task_id"]["S"]: item["labourer_id_task_status"]["S"]
          for item in boto3.client("dynamodb").scan(TableName="sosw_closed_tasks")["Items"]}
assert closed == {done: "my_worker_1", doomed: "fragile_worker_0"}
message = json.loads(json.loads(sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"])["Message"])
assert (message["event"], message["task_id"], message["attempts"]) == ("task_dead", doomed, 1)

# The failed task waits in sosw_retry_tasks: max_duration (900 s) x 1 attempt.
retry, = boto3.client("dynamodb").scan(TableName="sosw_retry_tasks")["Items"]
assert abs(int(retry["desired_launch_time"]["N"]) - (int(time.time()) + 900)) <= 5

# 16 minutes later, the next run puts it back at the head of the queue.
later = int(time.time()) + 16 * 60
with mock.patch.object(TaskManager, "now", return_value=later):
    assert scavenger({}) == {"tasks_retried": 1}
    labourer = task_manager.get_labourer("my_worker")
    head, = task_manager.get_next_for_labourer(labourer)
assert head["task_id"] == failed and head["attempts"] == 1  # the next invocation will be attempt 2 of 2
