"""
Benchmark of the Scheduler: one job of N tasks on a moto server started here, with the meta log (``sosw_tasks_meta``)
off and on. Prints tasks per second and AWS API calls per created task, by service and operation, counted with a
botocore ``before-call`` hook on the default boto3 session. Exits with 1 if DynamoDB calls per task exceed the
limit (0.1; the original sosw made about 3: a Query and a PutItem per task, plus the meta log).

The job runs as in Lambda, with a context that has a request id (so the retry check is counted), but with no time
limit: moto is much slower than DynamoDB, and a Scheduler that hands the rest of a job to a sibling needs a Lambda
endpoint, which this benchmark does not start.

.. code-block:: bash

    python benchmarks/scheduler.py --tasks 10000
    python benchmarks/scheduler.py --tasks 10000 --tasks 100000 --meta off
"""

import argparse
import os
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List

import boto3

# Runnable from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sosw import constants  # noqa: E402
from sosw.local.moto_server import MotoServer  # noqa: E402

BUCKET = "sosw-benchmark-queue"
LABOURER = "benchmark_worker"
MAX_DYNAMODB_CALLS_PER_TASK = 0.1


class CallCounter:
    """Counts API calls per (service, operation) through botocore's ``before-call`` event."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()

    def __call__(self, model: Any, **kwargs: Any) -> None:
        self.calls[(model.service_model.service_name, model.name)] += 1

    def by_service(self) -> Dict[str, int]:
        result: Dict[str, int] = defaultdict(int)
        for (service, _), count in self.calls.items():
            result[service] += count
        return dict(result)


class BenchmarkContext:
    """Just enough of a Lambda context: a request id, and always 15 minutes left."""

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "sosw_scheduler"
        self.invoked_function_arn = f"arn:aws:lambda:us-west-2:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def prepare(moto: MotoServer) -> None:
    """Empty tables and bucket; not counted."""
    moto.reset()
    dynamodb = boto3.client("dynamodb")
    for spec in constants.TABLE_SCHEMAS.values():
        dynamodb.create_table(**spec)
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})


def count_tasks() -> int:
    client = boto3.client("dynamodb")
    total, kwargs = 0, {}
    while True:
        page = client.scan(TableName=constants.TASKS_TABLE, Select="COUNT", **kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run(moto: MotoServer, counter: CallCounter, tasks: int, meta: bool, batch_size: int) -> Dict[str, Any]:
    from sosw.scheduler import Scheduler

    prepare(moto)
    task_config: Dict[str, Any] = {"labourers": {LABOURER: {"max_simultaneous_invocations": 10}}}
    meta_config = {"dynamo_db_config": {"table_name": constants.META_TABLE}} if meta else {"write_meta_to_ddb": False}
    scheduler = Scheduler(custom_config={
        "meta_handler_config": meta_config,
        "queue_bucket": BUCKET,
        "batch_size": batch_size,
        "job_schema": {"chunkable_attrs": ["item"]},
        "task_config": task_config,
    }, lambda_context=BenchmarkContext())
    job = {"lambda_name": LABOURER, "period": "yesterday", "items": [f"item-{i}" for i in range(tasks)],
           "isolate_items": True}

    counter.calls.clear()
    started = time.perf_counter()
    result = scheduler({"job": job})
    seconds = time.perf_counter() - started
    calls = dict(counter.calls)

    stored = count_tasks()
    if result["tasks_created"] != tasks or stored != tasks:
        raise SystemExit(f"expected {tasks} tasks, the Scheduler created {result['tasks_created']}, the table "
                         f"holds {stored}")
    return {"tasks": tasks, "meta": meta, "seconds": seconds, "calls": calls}


def report(results: List[Dict[str, Any]]) -> bool:
    """Print the results; False if a run made more DynamoDB calls per task than allowed."""
    ok = True
    print(f"{'tasks':>8} {'meta log':>8} {'seconds':>8} {'tasks/s':>9} {'DynamoDB/task':>14} {'S3/task':>9} "
          f"{'all/task':>9}")
    for result in results:
        tasks, calls = result["tasks"], result["calls"]
        services: Dict[str, int] = defaultdict(int)
        for (service, _), count in calls.items():
            services[service] += count
        dynamodb = services.get("dynamodb", 0) / tasks
        ok = ok and dynamodb <= MAX_DYNAMODB_CALLS_PER_TASK
        print(f"{tasks:>8} {'on' if result['meta'] else 'off':>8} {result['seconds']:>8.2f} "
              f"{tasks / result['seconds']:>9.0f} {dynamodb:>14.4f} {services.get('s3', 0) / tasks:>9.4f} "
              f"{sum(services.values()) / tasks:>9.4f}")
        details = ", ".join(f"{service}.{operation} {count}" for (service, operation), count in sorted(calls.items()))
        print(f"{'':>8} calls: {details}")
    verdict = "OK" if ok else "TOO MANY"
    print(f"{verdict}: DynamoDB API calls per created task must be <= {MAX_DYNAMODB_CALLS_PER_TASK} "
          f"(the original sosw: about 3)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--tasks", type=int, action="append", help="tasks in the job; repeat for several jobs "
                        "(default 10000)")
    parser.add_argument("--meta", choices=("off", "on", "both"), default="both", help="the meta log (default both)")
    parser.add_argument("--batch-size", type=int, default=500, help="Scheduler batch_size (default 500)")
    args = parser.parse_args()

    with MotoServer() as moto:
        os.environ.update(moto.environ())
        for name in ("AWS_ENDPOINT_URL_LAMBDA", "AWS_LAMBDA_FUNCTION_NAME", "STAGE"):
            os.environ.pop(name, None)
        # Clients copy the session's event hooks when they are created: register before any exists.
        counter = CallCounter()
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call", counter)
        metas = {"off": [False], "on": [True], "both": [False, True]}[args.meta]
        results = [run(moto, counter, tasks, meta, args.batch_size)
                   for tasks in (args.tasks or [10_000]) for meta in metas]
    sys.exit(0 if report(results) else 1)


if __name__ == "__main__":
    main()
