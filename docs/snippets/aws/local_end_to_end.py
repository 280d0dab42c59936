"""The whole workflow on this machine: a job in, every task closed. A template for testing your own Workers.

moto serves DynamoDB (and the rest); the local Lambda service runs the Worker and the WorkerAssistant, here as
Python callables in this process; the Orchestrator and the Scavenger run in a loop instead of every minute.
"""

import os

import boto3

from sosw import Orchestrator, Scavenger, Scheduler, Worker, WorkerAssistant, constants
from sosw.app import get_lambda_handler
from sosw.local.lambda_service import LocalLambdaService
from sosw.local.moto_server import MotoServer


class Squarer(Worker):
    """The Worker under test: squares the numbers of its task."""

    def __call__(self, event):
        self.result["squares"] = sum(n * n for n in event["numbers"])
        return super().__call__(event)


ESSENTIAL_CONFIG = {"task_config": {"labourers": {"squarer": {"max_simultaneous_invocations": 4}}}}

with MotoServer() as moto, LocalLambdaService(proxy_endpoint=moto.endpoint) as lambdas:
    os.environ.update({**moto.environ(), **lambdas.environ()})  # unmodified boto3 code now talks to them
    dynamodb = boto3.client("dynamodb")
    for spec in constants.TABLE_SCHEMAS.values():  # the tables of examples/yaml/initial/sosw-dynamo-db-tables.yaml
        dynamodb.create_table(**spec)

    lambdas.register("squarer", get_lambda_handler(Squarer), timeout=10)
    lambdas.register(constants.WORKER_ASSISTANT_LAMBDA,
                     get_lambda_handler(WorkerAssistant, custom_config=ESSENTIAL_CONFIG), timeout=10)

    scheduler = Scheduler(custom_config={**ESSENTIAL_CONFIG, "job_schema": {"chunkable_attrs": ["number"]}})
    assert scheduler({"lambda_name": "squarer", "numbers": list(range(10)), "max_numbers_per_batch": 1})[
        "tasks_created"] == 10

    orchestrator, scavenger = Orchestrator(custom_config=ESSENTIAL_CONFIG), Scavenger(custom_config=ESSENTIAL_CONFIG)
    for run in range(1, 10):  # each pass stands for a minute of the scheduled rules
        invoked = orchestrator({})
        lambdas.wait_idle(timeout=30)  # the Workers run, then report to the WorkerAssistant
        scavenger({})
        closed = boto3.resource("dynamodb").Table(constants.CLOSED_TASKS_TABLE).scan()["Items"]
        print(f"run {run}: invoked {invoked}, closed {len(closed)}")
        if len(closed) == 10:
            break

    assert run == 3  # at most 4 at a time: 4 + 4 + 2
    assert sorted(int(task["result_squares"]) for task in closed) == [n * n for n in range(10)]
    assert {task["labourer_id_task_status"] for task in closed} == {"squarer_1"}  # all completed, none dead
    assert lambdas.stats["squarer"]["succeeded"] == 10
