"""
Benchmark of dispatch: how soon tasks start, with and without kicks (``kick_orchestrator``), on a moto server with
the Lambda invocations routed to the local Lambda service (LocalLambdaService; Scheduler, Orchestrator, Workers and
WorkerAssistant are the real classes, run by their handlers). No ticker: kicks and a simulated minute schedule (an
Event invocation of the Orchestrator every ``--minute`` seconds of wall time) are all that drive dispatch.

Each function runs as Lambda runs it: an invocation takes a free warm "container" (its own handler instance, so its
own in-memory state such as the kick debounce) or starts a new one. AWS calls are counted by a botocore
``before-call`` hook on the default session.

(a) 20 jobs of one task each, scheduled one after another: seconds from the Scheduler's response to the start of the
    job's Worker, p50 and p95.
(b) ``--tasks`` (300) one-second tasks of a Labourer with ``max_simultaneous_invocations`` 10: tasks per second from
    the Scheduler's response to the last end, and the peak of Workers running at once. Without kicks only the minute
    schedule dispatches, 10 tasks a minute: that run dispatches ``--no-kick-ticks`` (3) minutes' worth and its
    rate is measured over them, or the run would take half an hour.
(c) AWS calls per task and Orchestrator Lambda-seconds per task in (b), with and without kicks, and their difference.

    python benchmarks/dispatch.py [--quick] [--minute 60] [--tasks 300] [--jobs 20]

``--quick`` (a smoke run, under ~30 s): 5 jobs, 40 tasks, a 6-second minute, 1 no-kick minute.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402

from sosw import constants  # noqa: E402
from sosw.local.lambda_service import LocalLambdaService  # noqa: E402
from sosw.local.moto_server import MotoServer  # noqa: E402

LABOURER = "bench_dispatch_worker"
#: Who makes the calls counted per task: the functions and the simulated schedule (not the benchmark's own set-up).
SOSW = ("scheduler", "schedule", "orchestrator", "worker", "assistant")
LIMIT = 10
CALLS: Counter = Counter()
FUNCTION = threading.local()


def count_call(model=None, **kwargs) -> None:
    CALLS[getattr(FUNCTION, "name", "orchestrator")] += 1
    CALLS[f"{getattr(FUNCTION, 'name', 'orchestrator')}.{model.name}"] += 1
    CALLS["total"] += 1


class Containers:
    """A function's warm containers: an invocation takes a free one or starts one (a new handler instance)."""

    def __init__(self, name: str, make: Callable[[], Callable[[Any, Any], Any]]) -> None:
        self.name, self._make = name, make
        self._free: List[Callable[[Any, Any], Any]] = []
        self._lock = threading.Lock()
        self.started = 0
        self.seconds = 0.0

    def __call__(self, event: Any, context: Any) -> Any:
        with self._lock:
            handler = self._free.pop() if self._free else None
            if handler is None:
                self.started += 1
        if handler is None:
            handler = self._make()
        FUNCTION.name = self.name
        began = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - began
                self._free.append(handler)


class Tracker:
    """Worker starts and ends, and how many run at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.starts: Dict[str, float] = {}
        self.ends: Dict[str, float] = {}
        self.running = 0
        self.peak = 0

    def start(self, job: str) -> None:
        with self._lock:
            self.starts.setdefault(job, time.monotonic())
            self.running += 1
            self.peak = max(self.peak, self.running)

    def end(self, job: str) -> None:
        with self._lock:
            self.running -= 1
            self.ends[job] = time.monotonic()


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * (len(ordered) - 1)))))]


def run(kicks: bool, args: argparse.Namespace, scenario: str) -> Dict[str, Any]:
    """One scenario (``latency`` or ``throughput``) with kicks on or off, on fresh servers."""
    with MotoServer() as moto, LocalLambdaService(async_retry_delays=(0.1, 0.1)) as lambdas:
        os.environ.update(moto.environ())
        os.environ.update(lambdas.environ())
        checker = boto3.session.Session().client("dynamodb")  # its own session: not counted
        for spec in constants.TABLE_SCHEMAS.values():
            checker.create_table(**spec)
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call.*.*", count_call)
        CALLS.clear()

        from sosw import Orchestrator, Scheduler, Worker, WorkerAssistant
        from sosw.app import get_lambda_handler

        limit = LIMIT if scenario == "throughput" else 2 * args.jobs  # (a) measures waiting for a run, not a slot
        task_config = {"labourers": {LABOURER: {"max_simultaneous_invocations": limit, "duration": 60,
                                                "cooldown": 10}}}
        essential = {"task_config": task_config, "meta_handler_config": {"write_meta_to_ddb": False},
                     "metrics": False,
                     "kick_orchestrator": kicks}
        tracker = Tracker()

        class BenchWorker(Worker):
            def __call__(self, event):
                job = str(event.get("mark") or event.get("task_id"))
                tracker.start(job)
                try:
                    time.sleep(float(event.get("seconds", 0)))
                finally:
                    tracker.end(job)
                return super().__call__(event)

        def handler(cls, config):
            return lambda: get_lambda_handler(cls, custom_config=config)

        functions = {
            LABOURER: Containers("worker", handler(BenchWorker, {})),
            constants.WORKER_ASSISTANT_LAMBDA: Containers("assistant", handler(WorkerAssistant, essential)),
            "sosw_orchestrator": Containers("orchestrator", handler(Orchestrator, essential)),
        }
        for name, containers in functions.items():
            lambdas.register(name, containers, timeout=60)
        # As the Worker templates set it: Lambda's own retries would stack on sosw's.
        boto3.session.Session().client("lambda").put_function_event_invoke_config(FunctionName=LABOURER,
                                                                                 MaximumRetryAttempts=0)
        scheduler = Scheduler(custom_config={**essential, "task_config": {**task_config,
                                                                          "read_labourer_timeout": False}})
        lambda_client = boto3.client("lambda")

        stop = threading.Event()

        def minute_schedule() -> None:
            while not stop.wait(args.minute):
                FUNCTION.name = "schedule"
                lambda_client.invoke(FunctionName="sosw_orchestrator", InvocationType="Event", Payload=b"{}")

        ticker = threading.Thread(target=minute_schedule, daemon=True)
        ticker.start()
        result: Dict[str, Any] = {}
        try:
            if scenario == "latency":
                answered: Dict[str, float] = {}
                for index in range(args.jobs):
                    job = f"job{index}"
                    FUNCTION.name = "scheduler"
                    # A request id of its own, as each Lambda invocation has: it is the job's id.
                    scheduler.lambda_context = SimpleNamespace(aws_request_id=uuid.uuid4().hex,
                                                               get_remaining_time_in_millis=lambda: 300_000)
                    created = scheduler({"job": {"lambda_name": LABOURER, "mark": job, "seconds": 0}})
                    if args.verbose:
                        print(job, created, dict(scheduler.stats))
                    answered[job] = time.monotonic()
                    if kicks:  # each job on its own: its Worker starts before the next job is scheduled
                        deadline = answered[job] + args.minute + 30
                        while job not in tracker.starts and time.monotonic() < deadline:
                            time.sleep(0.01)
                    else:  # spread over a minute: each job lands at another point of the schedule's minute
                        time.sleep(args.minute / args.jobs)
                deadline = time.monotonic() + args.minute + 30
                while len(tracker.starts) < args.jobs and time.monotonic() < deadline:
                    time.sleep(0.05)
                delays = [tracker.starts.get(job, deadline) - at for job, at in answered.items()]
                if args.verbose:
                    print("delays", [round(d, 2) for d in delays])
                result = {"p50": statistics.median(delays), "p95": percentile(delays, 0.95)}
            else:
                tasks = args.tasks if kicks else min(args.tasks, LIMIT * args.no_kick_ticks)
                job = {"lambda_name": LABOURER, "seconds": 1, "marks": [f"t{i}" for i in range(tasks)],
                       "isolate_marks": True}
                scheduler_cfg = {**essential, "job_schema": {"chunkable_attrs": ["mark"]},
                                 "task_config": {**task_config, "read_labourer_timeout": False}}
                FUNCTION.name = "scheduler"
                Scheduler(custom_config=scheduler_cfg)({"job": job})
                answered_at = time.monotonic()
                deadline = time.monotonic() + tasks * 2 + args.minute * (tasks / LIMIT + 2)
                while len(tracker.ends) < tasks and time.monotonic() < deadline:
                    time.sleep(0.05)
                lambdas.wait_idle(30)
                first, last = min(tracker.starts.values()), max(tracker.ends.values())
                if args.verbose:
                    starts = sorted(tracker.starts.values())
                    print("starts:", " ".join(f"{t - first:.2f}" for t in starts[:60]))
                orchestrator = functions["sosw_orchestrator"]
                result = {"tasks": tasks, "done": len(tracker.ends), "rate": len(tracker.ends) / (last - answered_at),
                          "span": last - first, "peak": tracker.peak,
                          "calls": sum(v for k, v in CALLS.items() if k in SOSW) / tasks,
                          "by": {k: v for k, v in CALLS.items() if k != "total"},
                          "orch_seconds": orchestrator.seconds / tasks,
                          "orch_runs": lambdas.stats.get("sosw_orchestrator", {}),
                          "containers": {c.name: c.started for c in functions.values()}}
        finally:
            stop.set()
            ticker.join(timeout=5)
            lambdas.wait_idle(30)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer jobs and tasks, a 6-second minute")
    parser.add_argument("--minute", type=float, default=60.0, help="seconds between scheduled Orchestrator runs")
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--no-kick-ticks", type=int, default=3,
                        help="minutes of dispatch measured in (b) without kicks")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--only", choices=("a", "b"), help="debugging: run only (a) or (b)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON as well")
    args = parser.parse_args()
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.WARNING, format="%(relativeCreated)8.0f %(threadName)s %(message)s")
    if args.quick:
        args.minute, args.tasks, args.jobs, args.no_kick_ticks = min(args.minute, 6.0), 40, 5, 1
    figures = {}
    for kicks in (True, False):
        figures[kicks] = {"a": run(kicks, args, "latency") if args.only in (None, "a") else {"p50": 0.0, "p95": 0.0},
                          "b": run(kicks, args, "throughput") if args.only in (None, "b") else None}
        if args.verbose:
            print(kicks, figures[kicks])
    if args.only:
        return
    on, off = figures[True], figures[False]
    print(f"dispatch benchmark: minute schedule every {args.minute:g} s, limit {LIMIT}, "
          f"{args.jobs} jobs for (a), {on['b']['tasks']} / {off['b']['tasks']} one-second tasks for (b)")
    rows = [
        ("(a) schedule -> first Worker start, p50 s", "p50", "a", "{:.2f}"),
        ("(a) schedule -> first Worker start, p95 s", "p95", "a", "{:.2f}"),
        ("(b) tasks per second", "rate", "b", "{:.2f}"),
        ("(b) peak Workers running", "peak", "b", "{:d}"),
        ("(c) AWS calls per task", "calls", "b", "{:.3f}"),
        ("(c) Orchestrator Lambda-seconds per task", "orch_seconds", "b", "{:.4f}"),
    ]
    print(f"{'figure':<44}{'kicks on':>12}{'kicks off':>12}")
    for label, key, part, fmt in rows:
        print(f"{label:<44}{fmt.format(on[part][key]):>12}{fmt.format(off[part][key]):>12}")
    print(f"{'(c) added by kicks: AWS calls per task':<44}{on['b']['calls'] - off['b']['calls']:>12.3f}")

    def dispatch_calls(b: Dict[str, Any]) -> float:
        # What dispatch costs per task: the Orchestrator's calls (its Worker invocations too), the schedule's and
        # the WorkerAssistant's kicks; not the fixed costs (config reads per container, the Scheduler's job).
        by = b["by"]
        return (by.get("orchestrator", 0) + by.get("schedule", 0) + by.get("assistant.Invoke", 0)) / b["tasks"]

    print(f"{'(c) dispatch calls per task (Orch.+kicks)':<44}{dispatch_calls(on['b']):>12.3f}"
          f"{dispatch_calls(off['b']):>12.3f}")
    added = dispatch_calls(on["b"]) - dispatch_calls(off["b"])
    print(f"{'(c) added by kicks: dispatch calls per task':<44}{added:>12.3f}")
    print(f"{'(c) added by kicks: Orch. Lambda-s per task':<44}"
          f"{on['b']['orch_seconds'] - off['b']['orch_seconds']:>12.4f}")
    for kicks in (True, False):
        b = figures[kicks]["b"]
        print(f"calls by function, kicks {'on' if kicks else 'off'}: "
              + ", ".join(f"{k} {v / b['tasks']:.3f}" for k, v in sorted(b["by"].items()))
              + f"; orchestrator invocations {b['orch_runs'].get('invocations', b['orch_runs'])}")
    if args.json:
        print(json.dumps({str(k): v for k, v in figures.items()}, default=str))


if __name__ == "__main__":
    main()
