"""
Fixtures for the task lifecycle tests: the Essentials and Workers of sosw running together against the moto server
and the local Lambda service, with a clock the test moves by hand.

- ``clock``: ``TaskManager.now`` of every TaskManager (also those inside the WorkerAssistant) returns ``clock.now``,
  and sub-second stamps (the event log) come from the same clock; ``clock.advance(seconds)`` moves
  it, so expiry and retry delays need no sleeping.
- ``lambda_service``: a :class:`LocalLambdaService` (fast Event retries) that boto3 Lambda clients reach.
- The moto server (``sosw.local._moto_main``) serves DynamoDB requests one at a time, so each is atomic as on
  DynamoDB: concurrent Essentials interleave between requests, never inside one.
- ``lifecycle``: a :class:`Lifecycle` factory: ``lifecycle({'w1': {'max_simultaneous_invocations': 5}}, workers=...)``
  creates the tables, registers the Workers and the WorkerAssistant and builds Orchestrators, Scavengers and
  TaskManagers with one shared ``task_config``.
"""

import json
import threading
import time
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Type

import pytest

import sosw.worker as worker_module
from sosw.app import Processor, get_lambda_handler
from sosw.local.lambda_service import LocalLambdaService
from sosw.managers import meta_handler
from sosw.managers.meta_handler import MetaHandler
from sosw.managers.task import TaskManager
from sosw.orchestrator import Orchestrator
from sosw.scavenger import Scavenger
from sosw.worker import Worker
from sosw.worker_assistant import WorkerAssistant
from tests.integration.conftest import scan_all

#: Seconds a Labourer's task runs before it counts as expired: duration + cooldown.
DURATION = 10
COOLDOWN = 5
EXPIRY = DURATION + COOLDOWN
MIN_RETRY_DELAY = 2
WAIT = 15  # seconds wait_idle may take at most; in-process handlers finish in milliseconds
META_TABLE = "sosw_tasks_meta"


class Clock:
    """The time of sosw in a test: whole seconds that move only by :meth:`advance`, and within the current second
    one more millisecond at each reading of :meth:`time`, so that what is stamped within a second keeps the order
    in which it happened."""

    TICK = 0.001

    def __init__(self, now: int):
        self.now = now
        self._ticks = 0
        self._lock = threading.Lock()

    def advance(self, seconds: int) -> int:
        with self._lock:
            self.now += int(seconds)
            self._ticks = 0
        return self.now

    def time(self) -> float:
        with self._lock:
            self._ticks = min(self._ticks + 1, 999)
            return self.now + self._ticks * self.TICK


# Workers ------------------------------------------------------------------------------------------------------------


class EchoWorker(Worker):
    """Completes every task: keeps ``n`` of the payload as ``result_n`` and counts a stat."""

    def __call__(self, event):
        self.stats["rows_processed"] += 1
        self.result["n"] = event.get("n")
        return super().__call__(event)


class SilentWorker(Worker):
    """Never reports back (never calls ``super().__call__``): its tasks expire."""

    def __call__(self, event):
        return None


class FailingWorker(Worker):
    """Reports every task as failed."""

    def __call__(self, event):
        self.mark_task_as_failed(event["task_id"], reason="boom")
        return None


def warm_pool(processor_class: Type[Processor], custom_config: Optional[Dict] = None):
    """A handler for the local Lambda service that behaves like a pool of warm Lambda containers: each concurrent
    invocation gets a container (``get_lambda_handler`` with its own ``LambdaGlobals``) of its own, reused later."""
    idle: List[Any] = []
    lock = threading.Lock()

    def handler(event, context):
        with lock:
            container = idle.pop() if idle else get_lambda_handler(processor_class, custom_config=custom_config)
        try:
            return container(event, context)
        finally:
            with lock:
                idle.append(container)

    return handler


# Fixtures -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(int(time.time()))
    monkeypatch.setattr(TaskManager, "now", lambda self: clock.now)
    # Sub-second stamps (the events of the task log) read time.time() of the MetaHandler's module: the same clock,
    # and no memory of the stamps of earlier tests.
    fake_time = SimpleNamespace(time=clock.time, sleep=time.sleep, monotonic=time.monotonic,
                                perf_counter=time.perf_counter)
    monkeypatch.setattr(meta_handler, "time", fake_time)
    # The Worker's start guard compares the attempt's start_by (the Orchestrator's clock) with its own clock.
    monkeypatch.setattr(worker_module, "time", fake_time)
    monkeypatch.setattr(MetaHandler, "_last_stamp", Decimal(0))
    return clock


@pytest.fixture
def lambda_service(aws, monkeypatch):
    service = LocalLambdaService(async_retry_delays=(0.05, 0.05)).start()
    for name, value in service.environ().items():
        monkeypatch.setenv(name, value)
    yield service
    service.stop()


class Lifecycle:
    """One sosw deployment for a test: its config, its Workers and its Essentials."""

    def __init__(self, clock: Clock, service: LocalLambdaService, labourers: Dict[str, Dict],
                 workers: Dict[str, Type[Worker]], **task_config: Any):
        self.clock = clock
        self.service = service
        labourers = {name: {"duration": DURATION, "cooldown": COOLDOWN, **settings}
                     for name, settings in labourers.items()}
        self.task_config: Dict[str, Any] = {
            "labourers": labourers,
            "read_labourer_timeout": False,
            "meta_handler_config": {"dynamo_db_config": {"table_name": META_TABLE}},
            **task_config,
        }
        for name, worker_class in workers.items():
            self.register_worker(name, worker_class)
        service.register("sosw_worker_assistant", warm_pool(WorkerAssistant, self.essential_config()), timeout=10)

    def register_worker(self, name: str, worker_class: Type[Worker], **kwargs: Any) -> None:
        self.service.register(name, warm_pool(worker_class), timeout=kwargs.pop("timeout", 10), **kwargs)

    def essential_config(self, **extra: Any) -> Dict[str, Any]:
        return {"task_config": json.loads(json.dumps(self.task_config)), **extra}

    def orchestrator(self, **extra: Any) -> Orchestrator:
        return Orchestrator(custom_config=self.essential_config(**extra))

    def scavenger(self, **extra: Any) -> Scavenger:
        return Scavenger(custom_config=self.essential_config(min_retry_delay=MIN_RETRY_DELAY, **extra))

    def assistant(self) -> WorkerAssistant:
        return WorkerAssistant(custom_config=self.essential_config())

    def task_manager(self) -> TaskManager:
        return TaskManager(custom_config=json.loads(json.dumps(self.task_config)))

    def wait(self) -> None:
        assert self.service.wait_idle(WAIT), f"Lambda invocations still pending after {WAIT}s: {self.service.stats}"

    def invocations_of(self, function: str) -> List[Dict]:
        return [r for r in self.service.invocations if r["function"] == function]

    def invoked_task_ids(self, function: str) -> Counter:
        """How many times the Worker ``function`` was invoked per task id (every attempt of the local service)."""
        return Counter(r["payload"]["task_id"] for r in self.invocations_of(function))


@pytest.fixture
def lifecycle(sosw_tables, clock, lambda_service):
    def make(labourers: Dict[str, Dict], workers: Optional[Dict[str, Type[Worker]]] = None,
             **task_config: Any) -> Lifecycle:
        return Lifecycle(clock, lambda_service, labourers, workers or {}, **task_config)

    return make


# Reading the tables ---------------------------------------------------------------------------------------------------


def by_id(table: str) -> Dict[str, Dict]:
    """Items of a table keyed by task_id."""
    return {item["task_id"]: item for item in scan_all(table)}


def meta_actions(table: str = META_TABLE) -> Dict[str, List[str]]:
    """The event log: actions per task id, oldest first."""
    events: Dict[str, List] = {}
    for item in sorted(scan_all(table), key=lambda i: i["created_at"]):
        events.setdefault(item["task_id"], []).append(item["action"])
    return events


def run_together(calls):
    """Call every function at once, each in its own thread; their results in order."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as err:  # reported below: an exception in a thread would go unnoticed
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results
