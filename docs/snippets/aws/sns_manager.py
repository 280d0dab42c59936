"""SnsManager queues messages and publishes them together; the queue is committed after each Lambda call."""

import json

import boto3

from sosw.components.sns import SnsManager

sns, sqs = boto3.client("sns"), boto3.client("sqs")
topic_arn = sns.create_topic(Name="nightly_job_alerts")["TopicArn"]
queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

manager = SnsManager(config={"recipient": topic_arn, "subject": "Nightly job"})
manager.send_message("3 rows skipped")
manager.send_message("2 rows failed")
assert manager.queue == ["3 rows skipped", "2 rows failed"]  # nothing sent yet
manager.commit()  # in a Processor with init_clients ['Sns'], the Lambda handler does this after every call

body = json.loads(sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"])
assert body["Subject"] == "Nightly job"
assert "3 rows skipped" in body["Message"] and "2 rows failed" in body["Message"]  # one SNS message, both lines
assert manager.stats["sns_publish_calls"] == 1
print(body["Message"])
