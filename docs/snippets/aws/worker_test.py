"""A Worker and a test for it: sosw's local Lambda service receives the Worker's report, so no AWS is needed."""

import os
from unittest import mock

from sosw import Worker
from sosw.app import LambdaGlobals, get_lambda_handler
from sosw.local.lambda_service import LocalLambdaService
from sosw.local.moto_server import FAKE_CREDENTIALS


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
# A real Lambda Invoke endpoint on 127.0.0.1 where a stand-in WorkerAssistant receives what the Worker reports.
# boto3 reaches it through AWS_ENDPOINT_URL_LAMBDA, with fake credentials and a region so that the test runs in any
# shell; patch.dict puts the environment back as it was when the test ends.
environment_before = dict(os.environ)
with LocalLambdaService() as lambdas, mock.patch.dict(os.environ, {**FAKE_CREDENTIALS, **lambdas.environ()}):
    lambdas.register("sosw_worker_assistant", lambda event, context: {"status": "completed"})

    with mock.patch("sosw.app.get_config", return_value={}):  # no config table: the Worker's config is empty
        processor = Processor()

    processor({"numbers": [1, 2, 3], "task_id": "task-1"})
    # An event without task_id (a manual test run, say) reports nothing.
    processor({"numbers": [4]})
    # A Worker that cannot finish reports a failed attempt instead: the Scavenger retries it at its next run.
    processor.mark_task_as_failed("task-2", reason="the API answered 503")
    assert lambdas.wait_idle(10)
    reports = [call for call in lambdas.invocations if call["function"] == "sosw_worker_assistant"]

assert [r["type"] for r in reports] == ["Event", "Event"]  # asynchronous: the Worker does not wait
payload, failed = sorted((r["payload"] for r in reports), key=lambda p: p["task_id"])
assert payload["action"] == "mark_task_as_completed" and payload["task_id"] == "task-1"
assert payload["result"] == {"total": 6}
assert payload["stats"]["numbers_summed"] == 3
assert failed["action"] == "mark_task_as_failed" and failed["result"]["error"] == "the API answered 503"
print(payload)
assert dict(os.environ) == environment_before  # nothing leaks into the next test
