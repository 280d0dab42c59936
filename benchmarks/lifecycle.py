"""
Benchmark of a task's whole life: create → Orchestrator → Worker → WorkerAssistant → Scavenger, on a moto server
with the Lambda invocations routed to the local Lambda service (handlers in-process).

Prints the AWS API calls per task by phase and by operation, and tasks per second. Every call made through boto3
in this process is counted by a botocore ``before-call`` hook on the default session, so nothing escapes the count.

    python benchmarks/lifecycle.py --tasks 1000 [--labourers 3] [--no-meta] [--no-start-guard]
"""

import argparse
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402

from sosw import constants  # noqa: E402
from sosw.local.lambda_service import LocalLambdaService  # noqa: E402
from sosw.local.moto_server import MotoServer  # noqa: E402

PHASE = threading.local()
MAIN = {"phase": "other"}  # for threads that set no phase of their own, e.g. the Orchestrator's invoke pool
SECONDS: Counter = Counter()
CALLS: "defaultdict[str, Counter]" = defaultdict(Counter)
PHASES = ("create", "orchestrate", "worker", "assistant", "scavenge")


def count_call(model=None, **kwargs) -> None:
    CALLS[getattr(PHASE, "name", MAIN["phase"])][f"{model.service_model.service_name}.{model.name}"] += 1


def in_phase(name, handler):
    def wrapped(event, context):
        PHASE.name = name
        return handler(event, context)

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--labourers", type=int, default=1)
    parser.add_argument("--max-simultaneous", type=int, default=250, help="per Labourer")
    parser.add_argument("--no-meta", action="store_true", help="turn the task event log off")
    parser.add_argument("--no-start-guard", action="store_true",
                        help="turn the Worker's start guard off (worker_start_guard: false): no claim per task")
    args = parser.parse_args()

    with MotoServer() as moto, LocalLambdaService(async_retry_delays=(0.1, 0.1)) as lambdas:
        os.environ.update(moto.environ())
        os.environ.update(lambdas.environ())
        checker = boto3.session.Session().client("dynamodb")  # its own session: not counted
        for spec in constants.TABLE_SCHEMAS.values():
            checker.create_table(**spec)

        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call.*.*", count_call)

        from sosw import Orchestrator, Scavenger, Worker, WorkerAssistant
        from sosw.app import get_lambda_handler
        from sosw.managers.task import TaskManager

        names = [f"bench_worker_{i}" for i in range(args.labourers)]
        task_config = {
            "labourers": {name: {"max_simultaneous_invocations": args.max_simultaneous, "duration": 60,
                                 "cooldown": 10} for name in names},
        }
        meta: dict = {"dynamo_db_config": {"table_name": constants.META_TABLE}}
        if args.no_meta:
            meta = {"write_meta_to_ddb": False}
        essential = {"task_config": task_config, "meta_handler_config": meta}

        class BenchWorker(Worker):
            def __call__(self, event):
                self.result["n"] = event.get("n")
                return super().__call__(event)

        for name in names:
            worker_config = {"worker_start_guard": not args.no_start_guard}
            lambdas.register(name, in_phase("worker", get_lambda_handler(BenchWorker, custom_config=worker_config)),
                             timeout=30)
        lambdas.register(constants.WORKER_ASSISTANT_LAMBDA,
                         in_phase("assistant", get_lambda_handler(WorkerAssistant, custom_config=essential)),
                         timeout=30)

        def phase(name):
            PHASE.name = MAIN["phase"] = name

        phase("create")
        started = time.perf_counter()
        task_manager = TaskManager(custom_config=task_config)
        per_labourer = args.tasks // len(names)
        for name in names:
            task_manager.create_tasks(task_manager.get_labourer(name), [{"n": i} for i in range(per_labourer)])
        total = per_labourer * len(names)
        created = time.perf_counter()

        orchestrator = Orchestrator(custom_config=essential)
        scavenger = Scavenger(custom_config=essential)
        runs = 0
        while True:
            runs += 1
            for name, step in (("orchestrate", lambda: orchestrator({})), ("workers", lambda: lambdas.wait_idle(300)),
                               ("scavenge", lambda: scavenger({}))):
                phase(name)
                step_started = time.perf_counter()
                step()
                SECONDS[name] += time.perf_counter() - step_started
            phase("other")
            closed = checker.scan(TableName=constants.CLOSED_TASKS_TABLE, Select="COUNT")["Count"]
            if closed >= total or runs > 10 * (total // args.max_simultaneous + 2):
                break
        finished = time.perf_counter()
        invocations = lambdas.stats

    print(f"tasks: {total} for {len(names)} labourer(s), meta log {'off' if args.no_meta else 'on'}, "
          f"start guard {'off' if args.no_start_guard else 'on'}, "
          f"{runs} Orchestrator+Scavenger runs, {closed} closed")
    print(f"create: {total / (created - started):,.0f} tasks/s; whole life: {total / (finished - started):,.1f} "
          f"tasks/s ({finished - started:.1f} s)")
    print(f"{'phase':<12}{'calls':>8}{'per task':>10}   operations")
    grand = 0
    for phase in PHASES + ("other",):
        calls = sum(CALLS[phase].values())
        grand += calls
        if calls:
            ops = ", ".join(f"{op} {n}" for op, n in CALLS[phase].most_common())
            print(f"{phase:<12}{calls:>8}{calls / total:>10.3f}   {ops}")
    print(f"{'total':<12}{grand:>8}{grand / total:>10.3f}")
    print("seconds: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in SECONDS.items()))
    for function, counters in sorted(invocations.items()):
        print(f"lambda {function}: " + ", ".join(f"{k} {v}" for k, v in counters.items() if v))


if __name__ == "__main__":
    main()
