"""
Chaos benchmark: sosw run as its users run it, under faults, on the embedded runtime.

A moto server holds the tables; the local Lambda service runs the Worker and the WorkerAssistant (real handlers,
in process) with their timeouts and Lambda's asynchronous retries. Several Orchestrators and Scavengers run at once,
each on a timer of its own, with the task event log on. Faults, drawn from a seeded generator:

* each run of the Worker succeeds (``--succeed``), raises (``--raise``) or overruns its timeout (the rest): an
  overrunning run is killed at its deadline as Lambda kills it (it reports nothing);
* a share of the DynamoDB calls of this process (``--throttle``) fail with ``ThrottlingException`` before they are
  sent, as a throttle that outlasted botocore's retries: a ``before-call`` hook on the default botocore session.

The Worker records when each run of its user's code starts and ends (after the start guard let it start), and
every table is read at the end. Printed: the tasks created, completed, dead, unfinished and lost; tasks found in two
tables; pairs of runs of one task that overlapped in time; tasks whose successful work ran again; tasks closed dead
although a run succeeded; the peak of runs at once against ``max_simultaneous_invocations``; and the AWS calls per
task. Exits 1 if any defect figure is not 0 (``--json PATH`` writes them for tests).

    python benchmarks/chaos.py --tasks 2000 [--orchestrators 3] [--scavengers 2] [--seed 1]
"""

import argparse
import json
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from sosw import constants  # noqa: E402
from sosw.local.lambda_service import LocalLambdaService  # noqa: E402
from sosw.local.moto_server import MotoServer  # noqa: E402

LABOURER = "chaos_worker"
#: Who makes a call: set per thread (the Lambda handlers, the timers); "other" for threads that set none, e.g. the
#: Orchestrators' invoke pools.
PHASE = threading.local()
#: The figures that must be 0 (and the peak, which must not exceed the limit).
DEFECTS = ("lost", "in_two_tables", "overlapping_runs", "successful_work_rerun", "dead_although_succeeded",
           "completed_without_success")


@dataclass
class Run:
    """One run of the user's code: seconds of ``time.monotonic``."""

    task_id: str
    outcome: str  # "succeeded", "raised" or "overran"
    start: float
    end: float = 0.0


@dataclass
class Journal:
    """What the Worker records, and the counters of the benchmark; thread-safe."""

    seed: int
    succeed: float
    fail: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: "defaultdict[str, List[Run]]" = field(default_factory=lambda: defaultdict(list))
    counts: Counter = field(default_factory=Counter)

    def begin(self, task_id: str) -> Run:
        """A run of ``task_id`` starts; its outcome is drawn from the seed, the task and the number of the run."""
        with self.lock:
            number = len(self.runs[task_id])
            draw = random.Random(f"{self.seed}:{task_id}:{number}").random()
            outcome = "succeeded" if draw < self.succeed else "raised" if draw < self.succeed + self.fail \
                else "overran"
            run = Run(task_id, outcome, time.monotonic())
            self.runs[task_id].append(run)
            return run

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n


class Throttle:
    """``before-call.dynamodb.*``: fails a seeded share of the calls with a ``ThrottlingException``, as DynamoDB
    answers once botocore's own retries are spent."""

    def __init__(self, rate: float, seed: int, journal: Journal):
        self.rate, self.on = rate, False
        self._random, self._lock, self._journal = random.Random(f"throttle:{seed}"), threading.Lock(), journal

    def __call__(self, model: Any = None, **kwargs: Any) -> None:
        with self._lock:
            hit = self.on and self._random.random() < self.rate
        if hit:
            self._journal.count(f"throttled {model.name}")
            raise ClientError({"Error": {"Code": "ThrottlingException",
                                         "Message": "Rate of requests exceeds the allowed throughput."},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, model.name)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--orchestrators", type=int, default=3, help="Orchestrators running at once")
    parser.add_argument("--scavengers", type=int, default=2, help="Scavengers running at once")
    parser.add_argument("--succeed", type=float, default=0.6, help="share of Worker runs that succeed")
    parser.add_argument("--raise", dest="fail", type=float, default=0.3, help="share of Worker runs that raise")
    parser.add_argument("--throttle", type=float, default=0.03, help="share of DynamoDB calls throttled")
    parser.add_argument("--limit", type=int, default=10, help="max_simultaneous_invocations of the Labourer")
    parser.add_argument("--timeout", type=float, default=1.0, help="the Worker's Lambda timeout, seconds")
    parser.add_argument("--cooldown", type=int, default=2, help="the Labourer's cooldown, seconds (duration: timeout)")
    parser.add_argument("--lambda-retries", type=int, default=2, choices=(0, 1, 2),
                        help="the Worker's MaximumRetryAttempts (EventInvokeConfig); Lambda's default is 2")
    parser.add_argument("--tick", type=float, default=0.5, help="mean seconds between runs of each Essential")
    parser.add_argument("--no-start-guard", action="store_true", help="worker_start_guard: false")
    parser.add_argument("--no-kicks", action="store_true",
                        help="kick_orchestrator: false (else the WorkerAssistant kicks a 'sosw_orchestrator' function "
                             "after each completion, one more Orchestrator running at times)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="give up waiting for every task to close after this long (default: 60 + tasks / 2)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not 0 <= args.succeed + args.fail <= 1:
        parser.error("--succeed and --raise add up to more than 1")
    return args


def build_worker(journal: Journal, args: argparse.Namespace, essential: Dict[str, Any]) -> Any:
    """The Worker's handler: its user's code succeeds, raises or overruns as the journal draws."""
    from sosw import Worker
    from sosw.app import get_lambda_handler

    deadlines = threading.local()

    class ChaosWorker(Worker):
        def __call__(self, event: Dict[str, Any]) -> Any:
            task_id = event["task_id"]
            deadlines.started = True
            run = journal.begin(task_id)
            if run.outcome == "overran":
                time.sleep(max(deadlines.at - time.monotonic(), 0) + 0.2)
                run.end = min(time.monotonic(), deadlines.at)  # Lambda kills the run at its deadline
                raise RuntimeError("chaos: killed at the timeout")  # the result of a killed run goes nowhere
            time.sleep(random.Random(f"{args.seed}:{task_id}:{run.start}").uniform(0.02, 0.25) * args.timeout)
            run.end = time.monotonic()
            if run.outcome == "raised":
                raise RuntimeError("chaos: the Worker failed")
            self.result["n"] = event.get("n")
            return super().__call__(event)

    config = {"meta_handler_config": essential["meta_handler_config"],
              "worker_start_guard": not args.no_start_guard}
    # Built here, with its clients, in the main thread: boto3 is not thread-safe while it makes clients.
    from sosw.components.dynamo_db import DynamoDbClient
    from sosw.managers._claims import ClaimStore

    client = DynamoDbClient(config={"table_name": constants.TASKS_TABLE})
    worker = ChaosWorker(custom_config=config, claim_store=ClaimStore(lambda: client, constants.TASKS_TABLE))
    handler = get_lambda_handler(ChaosWorker, SimpleNamespace(lambda_context=None, processor=worker),
                                 custom_config=config)

    def lambda_handler(event: Any, context: Any) -> Any:
        PHASE.name = "worker"
        deadlines.at = time.monotonic() + context.get_remaining_time_in_millis() / 1000
        deadlines.started = False
        try:
            return handler(event, context)
        finally:
            if not deadlines.started:
                journal.count("runs refused by the start guard")

    return lambda_handler


def build_essential(essential_class: Any, name: str, phase: str, journal: Journal, config: Dict[str, Any]) -> Any:
    """The handler of an Essential run as a Lambda function, counting its runs and answers. The Essential is built
    here, in the main thread: boto3 is not thread-safe while it makes clients."""
    from sosw.app import get_lambda_handler

    holder = SimpleNamespace(lambda_context=None, processor=essential_class(custom_config=config))
    handler = get_lambda_handler(essential_class, holder, custom_config=config)

    def lambda_handler(event: Any, context: Any) -> Any:
        PHASE.name = phase
        try:
            answer = handler(event, context)
        except Exception as err:
            code = getattr(err, "response", {}).get("Error", {}).get("Code") or type(err).__name__
            journal.count(f"{name}: error {code}")
            raise
        status = answer.get("status") if isinstance(answer, dict) and "status" in answer else "ok"
        journal.count(f"{name}: {status}")
        return answer

    return lambda_handler


def tick(name: str, essential: Any, stop: threading.Event, mean: float, seed: str, journal: Journal) -> None:
    """Run ``essential`` until ``stop``, at jittered intervals; a failed run is counted and the next one goes on."""
    jitter = random.Random(seed)
    PHASE.name = name
    while not stop.wait(mean * jitter.uniform(0.5, 1.5)):
        try:
            essential({})
            journal.count(f"{name} runs")
        except Exception as err:
            journal.count(f"{name} runs failed")
            journal.count(f"{name} failures: {type(err).__name__}")


def read_tables(checker: Any) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """Every item of the tasks, retry and closed tables, by task id (the dispatch leases left out)."""
    from boto3.dynamodb.types import TypeDeserializer

    from sosw.managers._greenfield import LEASE_PREFIX

    plain = TypeDeserializer()
    tables: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for role, name in (("tasks", constants.TASKS_TABLE), ("retry", constants.RETRY_TASKS_TABLE),
                       ("closed", constants.CLOSED_TASKS_TABLE)):
        items: Dict[str, Dict[str, Any]] = {}
        for page in checker.get_paginator("scan").paginate(TableName=name):
            for raw in page["Items"]:
                item = {k: plain.deserialize(v) for k, v in raw.items()}
                if not str(item["task_id"]).startswith(LEASE_PREFIX):
                    items[item["task_id"]] = item
        tables[role] = items
    return tables


def peak_at_once(runs: List[Run]) -> int:
    """Most runs in progress at one moment."""
    edges = sorted([(run.start, 1) for run in runs] + [(run.end, -1) for run in runs], key=lambda e: (e[0], e[1]))
    peak = current = 0
    for _moment, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def figures(task_ids: List[str], tables: Dict[str, Dict[str, Dict[str, Any]]], journal: Journal) -> Dict[str, Any]:
    """The chaos figures, from the tables and the Worker's records."""
    found = Counter(task_id for items in tables.values() for task_id in items)
    closed = tables["closed"]
    status = {task_id: str(item.get("labourer_id_task_status", "")) for task_id, item in closed.items()}
    overlapping, rerun, dead_succeeded, completed_unsucceeded = 0, set(), set(), set()
    for task_id in task_ids:
        runs = sorted(journal.runs.get(task_id, []), key=lambda run: run.start)
        for i, run in enumerate(runs):
            overlapping += sum(1 for later in runs[i + 1:] if later.start < run.end)
            if run.outcome == "succeeded" and i + 1 < len(runs):
                rerun.add(task_id)
        succeeded = any(run.outcome == "succeeded" for run in runs)
        if status.get(task_id, "").endswith("_0") and succeeded:
            dead_succeeded.add(task_id)
        if status.get(task_id, "").endswith("_1") and not succeeded:
            completed_unsucceeded.add(task_id)
    all_runs = [run for runs in journal.runs.values() for run in runs]
    return {
        "created": len(task_ids),
        "completed": sum(1 for s in status.values() if s.endswith("_1")),
        "dead": sum(1 for s in status.values() if s.endswith("_0")),
        "unfinished": len(tables["tasks"]) + len(tables["retry"]),
        "lost": sum(1 for task_id in task_ids if not found[task_id]),
        "in_two_tables": sum(1 for n in found.values() if n > 1),
        "overlapping_runs": overlapping,
        "successful_work_rerun": len(rerun),
        "dead_although_succeeded": len(dead_succeeded),
        "completed_without_success": len(completed_unsucceeded),
        "runs": len(all_runs),
        "runs_by_outcome": dict(Counter(run.outcome for run in all_runs)),
        "peak_running": peak_at_once(all_runs),
    }


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    journal = Journal(args.seed, args.succeed, args.fail)
    calls: Counter = Counter()
    by_phase: Counter = Counter()
    throttle = Throttle(args.throttle, args.seed, journal)
    duration = max(int(round(args.timeout)), 1)

    with MotoServer() as moto, LocalLambdaService(async_retry_delays=(0.5, 1.0)) as lambdas:
        os.environ.update(moto.environ())
        os.environ.update(lambdas.environ())
        own = boto3.session.Session()  # the benchmark's own calls: neither counted nor throttled
        checker = own.client("dynamodb")
        for spec in constants.TABLE_SCHEMAS.values():
            checker.create_table(**spec)
        own.client("sns").create_topic(Name=constants.DEAD_SNS_TOPIC)

        boto3.setup_default_session()
        calls_lock = threading.Lock()

        def count_call(model: Any = None, **kwargs: Any) -> None:
            with calls_lock:
                calls[f"{model.service_model.service_name}.{model.name}"] += 1
                by_phase[getattr(PHASE, "name", "other")] += 1

        boto3.DEFAULT_SESSION.events.register("before-call.*.*", count_call)
        boto3.DEFAULT_SESSION.events.register("before-call.dynamodb.*", throttle)

        from sosw import Orchestrator, Scavenger, WorkerAssistant
        from sosw.managers.task import TaskManager

        task_config = {
            "labourers": {LABOURER: {"max_simultaneous_invocations": args.limit, "duration": duration,
                                     "cooldown": args.cooldown}},
            "dispatch_lease_seconds": 5,
        }
        essential = {"task_config": task_config, "metrics": False, "kick_orchestrator": not args.no_kicks,
                     "meta_handler_config": {"dynamo_db_config": {"table_name": constants.META_TABLE}}}
        lambdas.register(LABOURER, build_worker(journal, args, essential), timeout=args.timeout,
                         reserved_concurrency=3 * args.limit)
        own.client("lambda").put_function_event_invoke_config(FunctionName=LABOURER,
                                                              MaximumRetryAttempts=args.lambda_retries)
        assistant = build_essential(WorkerAssistant, "completion answers", "assistant", journal,
                                    essential)
        lambdas.register(constants.WORKER_ASSISTANT_LAMBDA, assistant, timeout=30, reserved_concurrency=2 * args.limit)
        if not args.no_kicks:  # the Orchestrator that the WorkerAssistant kicks after a completion, as on AWS
            kicked = build_essential(Orchestrator, "kicked orchestrator", "kicked orchestrator", journal, essential)
            lambdas.register("sosw_orchestrator", kicked, timeout=30)

        task_ids = [f"chaos-{n:06d}" for n in range(args.tasks)]
        creator = TaskManager(custom_config=task_config)
        creator.create_tasks(creator.get_labourer(LABOURER), [{"n": n} for n in range(args.tasks)], task_ids=task_ids)
        created_calls = sum(calls.values())
        by_phase.clear()

        essentials = [(f"orchestrator {i}", Orchestrator(custom_config=essential)) for i in range(args.orchestrators)]
        essentials += [(f"scavenger {i}", Scavenger(custom_config=essential)) for i in range(args.scavengers)]
        stop = threading.Event()
        threads = [threading.Thread(target=tick, args=(name.split()[0], instance, stop, args.tick,
                                                       f"{args.seed}:{name}", journal), name=name, daemon=True)
                   for name, instance in essentials]
        started = time.monotonic()
        throttle.on = True
        for thread in threads:
            thread.start()
        limit_seconds = args.max_seconds if args.max_seconds is not None else 60 + args.tasks / 2
        while time.monotonic() - started < limit_seconds:
            time.sleep(1)
            closed = checker.scan(TableName=constants.CLOSED_TASKS_TABLE, Select="COUNT")["Count"]
            if closed >= args.tasks:
                break
        stop.set()
        for thread in threads:
            thread.join(60)
        lambdas.wait_idle(60)  # late deliveries and retries of Lambda
        throttle.on = False
        elapsed = time.monotonic() - started
        tables = read_tables(checker)
        invocations = lambdas.stats

    result = figures(task_ids, tables, journal)
    result.update({"limit": args.limit, "seconds": round(elapsed, 1), "calls": sum(calls.values()),
                   "calls_per_task": round(sum(calls.values()) / max(args.tasks, 1), 3),
                   "calls_by_phase": {"create": created_calls, **by_phase}, "counts": dict(journal.counts),
                   "lambda": invocations})
    report(args, result, calls)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, sort_keys=True))
    return 0 if is_clean(result) else 1


def is_clean(result: Dict[str, Any]) -> bool:
    """Whether every defect figure is 0 and the peak stayed within the limit."""
    return all(result[name] == 0 for name in DEFECTS) and result["peak_running"] <= result["limit"]


def report(args: argparse.Namespace, result: Dict[str, Any], calls: Counter) -> None:
    outcomes = result["runs_by_outcome"]
    print(f"chaos: {args.tasks} tasks, seed {args.seed}, {args.orchestrators} Orchestrators + {args.scavengers} "
          f"Scavengers at once, Worker succeeds {args.succeed:.0%} / raises {args.fail:.0%} / overruns "
          f"{1 - args.succeed - args.fail:.0%} (timeout {args.timeout:g} s, {args.lambda_retries} Lambda retries), "
          f"{args.throttle:.0%} of DynamoDB calls throttled, event log on, start guard "
          f"{'off' if args.no_start_guard else 'on'}; {result['seconds']} s")
    rows = [
        ("created", result["created"]), ("completed", result["completed"]), ("dead", result["dead"]),
        ("unfinished (still queued, running or waiting to retry)", result["unfinished"]),
        ("lost", result["lost"]), ("tasks in two tables", result["in_two_tables"]),
        ("overlapping runs (pairs of runs of one task)", result["overlapping_runs"]),
        ("successful work re-run (tasks)", result["successful_work_rerun"]),
        ("dead although a run succeeded", result["dead_although_succeeded"]),
        ("completed although no run succeeded", result["completed_without_success"]),
        ("peak running / limit", f"{result['peak_running']} / {result['limit']}"),
        ("runs of the user's code", f"{result['runs']} ("
         + ", ".join(f"{k} {outcomes.get(k, 0)}" for k in ("succeeded", "raised", "overran")) + ")"),
        ("AWS calls per task", f"{result['calls_per_task']:.2f} ({result['calls']} calls)"),
    ]
    width = max(len(name) for name, _value in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print("  counts: " + ", ".join(f"{k} {v}" for k, v in sorted(result["counts"].items())))
    for function, counters in sorted(result["lambda"].items()):
        print(f"  lambda {function}: " + ", ".join(f"{k} {v}" for k, v in counters.items() if v))
    runs = {"orchestrator": result["counts"].get("orchestrator runs", 0)
            + result["counts"].get("orchestrator runs failed", 0),
            "scavenger": result["counts"].get("scavenger runs", 0) + result["counts"].get("scavenger runs failed", 0)}
    per_caller = []
    for phase, n in sorted(result["calls_by_phase"].items(), key=lambda item: -item[1]):
        per_run = f", {n / runs[phase]:.1f}/run" if runs.get(phase) else ""
        per_caller.append(f"{phase} {n} ({n / max(args.tasks, 1):.2f}/task{per_run})")
    print("  calls by caller: " + ", ".join(per_caller))
    print("  calls: " + ", ".join(f"{op} {n}" for op, n in calls.most_common()))
    print("OK: no defect" if is_clean(result) else "DEFECTS found")


if __name__ == "__main__":
    sys.exit(main())
