"""A Worker and a unit test for it: the Lambda client is replaced by a recorder, so no AWS is needed."""

import json
from unittest import mock

import sosw.app
from sosw import Worker
from sosw.app import LambdaGlobals, get_lambda_handler


class Processor(Worker):
    """Sums the numbers of its task. In a real Worker, this is where the work of the chunk happens."""

    def __call__(self, event):
        total = sum(event["numbers"])
        self.stats["numbers_summed"] += len(event["numbers"])
        self.result["total"] = total  # stored on the task as result_total
        return super().__call__(event)  # tells the WorkerAssistant the task is completed


global_vars = LambdaGlobals()
lambda_handler = get_lambda_handler(Processor, global_vars)


# --- the test ---------------------------------------------------------------------------------------------------
class RecordingLambda:
    """Stands for the boto3 Lambda client: records what the Worker asks of it."""

    def __init__(self):
        self.calls = []

    def invoke(self, **kwargs):
        self.calls.append(kwargs)
        return {"StatusCode": 202}


with mock.patch.object(sosw.app, "get_config", return_value={}):
    processor = Processor()
processor.lambda_client = RecordingLambda()

processor({"numbers": [1, 2, 3], "task_id": "task-1"})

call, = processor.lambda_client.calls
payload = json.loads(call["Payload"])
assert call["FunctionName"] == "sosw_worker_assistant"  # config 'sosw_worker_assistant_lambda'
assert call["InvocationType"] == "Event"  # asynchronous: the Worker does not wait
assert payload["action"] == "mark_task_as_completed" and payload["task_id"] == "task-1"
assert payload["result"] == {"total": 6}
assert payload["stats"]["numbers_summed"] == 3

# An event without task_id (a manual test run, say) reports nothing.
processor({"numbers": [4]})
assert len(processor.lambda_client.calls) == 1

# A Worker that cannot finish reports a failed attempt instead: the Scavenger retries it at its next run.
processor.mark_task_as_failed("task-2", reason="the API answered 503")
failed = json.loads(processor.lambda_client.calls[-1]["Payload"])
assert failed["action"] == "mark_task_as_failed" and failed["result"]["error"] == "the API answered 503"
print(payload)
