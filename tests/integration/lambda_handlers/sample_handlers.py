"""
Handlers for tests/integration/test_local_lambda_service.py. This directory plays the code directory of a deployed
function (what a Lambda zip holds): the local Lambda service imports ``sample_handlers`` from here in worker processes.
"""

import os
import subprocess
import sys
import time

import boto3

#: Lives as long as the worker process: proves that a warm container serves the next invocation.
INVOCATIONS_IN_THIS_CONTAINER = 0

#: Variables the service must set for a handler.
REPORTED_ENV = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_TIMEOUT",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_LAMBDA",
    "GREETING",
)


def echo(event, context):
    """The event, what the context and environment say, and the process id."""
    # Must land in the function's log, not in the protocol between the service and the runner.
    print(f"echo handler prints to stdout: {context.aws_request_id}")
    print("echo handler prints to stderr", file=sys.stderr)
    return {
        "event": event,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "context": {
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "env": {name: os.environ.get(name) for name in REPORTED_ENV},
    }


def count(event, context):
    """How many invocations this process served, including this one."""
    global INVOCATIONS_IN_THIS_CONTAINER
    INVOCATIONS_IN_THIS_CONTAINER += 1
    return {"count": INVOCATIONS_IN_THIS_CONTAINER, "pid": os.getpid()}


def fail(event, context):
    raise ValueError(f"cannot handle {event!r}")


def put_item(event, context):
    """Write ``event["id"]`` into the DynamoDB table ``event["table"]`` (the moto server, via AWS_ENDPOINT_URL)."""
    boto3.client("dynamodb").put_item(TableName=event["table"], Item={"id": {"S": event["id"]}})
    return event["id"]


def sleep(event, context):
    """Start a child process, write both process ids to ``event["pid_file"]``, then sleep ``event["seconds"]``."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(event["pid_file"], "w") as pids:
        pids.write(f"{os.getpid()} {child.pid}")
    time.sleep(event["seconds"])
    child.kill()
    child.wait()
    return os.getpid()
