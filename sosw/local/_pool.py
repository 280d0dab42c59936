"""
One function's containers: its concurrency slots and its pool of warm workers, guarded by a lock of its own, and
the run of one attempt in a worker process (a ``"module.function"`` handler) or in a thread (a callable).
"""

import datetime
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Set, Union

from sosw.local._runner import LambdaContext, error_payload, runtime_error
from sosw.local._worker import Worker, WorkerExited, WorkerTimedOut
from sosw.local.constants import DEFAULT_MAX_CONTAINERS

logger = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]

# Workers run ``python -m sosw.local._runner`` from the function's code directory, where sosw need not be installed.
_SOSW_ROOT = str(Path(__file__).resolve().parents[2])


def log_stream_name() -> str:
    """A new container's log stream name, as Lambda makes them."""
    return f"{datetime.datetime.now(datetime.timezone.utc):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


@dataclass(frozen=True)
class FunctionSpec:
    """What a registration says about a function; see ``LocalLambdaService.register`` for each field."""

    name: str
    arn: str
    handler: Union[str, Handler]
    timeout: float
    reserved_concurrency: Optional[int]
    code_dir: Optional[str]
    environment: Mapping[str, str]
    memory_size: int

    @property
    def max_containers(self) -> int:
        """Processes (and Event invocations running at once) the function may have."""
        return DEFAULT_MAX_CONTAINERS if self.reserved_concurrency is None else self.reserved_concurrency

    @property
    def log_group_name(self) -> str:
        """``/aws/lambda/NAME``."""
        return f"/aws/lambda/{self.name}"


class Outcome(NamedTuple):
    """How one attempt ended."""

    status: str  # "succeeded", "failed" or "timed_out": also the name of the counter it increments
    result: Any = None
    error: Optional[Dict[str, Any]] = None


class StartFailed(Exception):
    """No worker process could serve the invocation; ``error`` is the body to answer."""

    def __init__(self, error: Dict[str, Any]):
        super().__init__(error["errorMessage"])
        self.error = error


def _timed_out(spec: FunctionSpec, request_id: str) -> Outcome:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    message = f"{stamp} {request_id} Task timed out after {spec.timeout:.2f} seconds"
    return Outcome("timed_out", error=runtime_error("Sandbox.Timedout", message))


class WorkerPool:
    """The concurrency slots and the warm workers of one registration of a function.

    :param spec: The function.
    :param environ: The service's variables for a new worker (its Lambda endpoint), read when one starts.
    :param log_dir: Where ``NAME.log`` receives what workers print; None: the service's stderr.
    :param on_slot_freed: Called, with no lock held, each time a slot frees up (queued Event invocations may start).
    """

    def __init__(self, spec: FunctionSpec, environ: Callable[[], Dict[str, str]], log_dir: Optional[Path],
                 on_slot_freed: Callable[[], None]):
        self.spec = spec
        self._environ = environ
        self._log_dir = log_dir
        self._on_slot_freed = on_slot_freed
        self._cond = threading.Condition()  # guards everything below
        self._running = 0  # invocations holding a slot
        self._containers = 0  # worker processes alive or starting
        self._idle: List[Worker] = []
        self._workers: Set[Worker] = set()
        self._retired = False  # replaced by a new registration: workers are no longer kept warm
        self._closed = False  # the service stops: no worker starts, every one is killed
        # The single "container" of a callable handler, which lives in the service process.
        self._in_process_log_stream = log_stream_name()

    @property
    def containers(self) -> int:
        """Worker processes alive or starting."""
        with self._cond:
            return self._containers

    # -- slots --------------------------------------------------------------------------------------------------------

    def try_take_slot(self, limit: Optional[int]) -> bool:
        """Take a concurrency slot unless ``limit`` invocations hold one already (None: no limit).

        :returns: Whether a slot was taken; give it back with :meth:`release_slot`.
        """
        with self._cond:
            if limit is not None and self._running >= limit:
                return False
            self._running += 1
            return True

    def release_slot(self) -> None:
        """Give back a slot taken with :meth:`try_take_slot`."""
        with self._cond:
            self._running -= 1
            self._cond.notify_all()
        self._on_slot_freed()

    # -- lifecycle ----------------------------------------------------------------------------------------------------

    def retire(self) -> None:
        """Stop keeping workers warm (a new registration replaced this one): kill the idle ones; busy ones die when
        their invocation ends."""
        with self._cond:
            self._retired = True
            idle, self._idle = self._idle, []
            self._workers.difference_update(idle)
            self._containers -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.kill()

    def close(self) -> None:
        """Kill every worker, busy ones included, and start no more."""
        with self._cond:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
            self._idle = []
            self._cond.notify_all()
        for worker in workers:
            worker.kill()

    # -- running ------------------------------------------------------------------------------------------------------

    def run(self, request_id: str, event: Any, invoked_arn: str) -> Outcome:
        """Run one attempt. The caller holds a slot."""
        if isinstance(self.spec.handler, str):
            return self._run_in_worker(request_id, event, invoked_arn)
        return self._run_in_thread(self.spec.handler, request_id, event, invoked_arn)

    def _run_in_thread(self, handler: Handler, request_id: str, event: Any, invoked_arn: str) -> Outcome:
        spec = self.spec
        context = LambdaContext(
            aws_request_id=request_id,
            invoked_function_arn=invoked_arn,
            function_name=spec.name,
            function_version="$LATEST",
            memory_limit_in_mb=spec.memory_size,
            log_group_name=spec.log_group_name,
            log_stream_name=self._in_process_log_stream,
            deadline_ms=int((time.time() + spec.timeout) * 1000),
        )
        box: Dict[str, Any] = {}

        def call() -> None:
            try:
                box["result"] = handler(event, context)
            except Exception as exc:
                box["error"] = error_payload(exc)

        thread = threading.Thread(target=call, name=f"lambda:{spec.name}:{request_id}", daemon=True)
        thread.start()
        thread.join(spec.timeout)
        if thread.is_alive():
            return _timed_out(spec, request_id)
        if "error" in box:
            return Outcome("failed", error=box["error"])
        try:
            json.dumps(box["result"])
        except (TypeError, ValueError) as exc:
            return Outcome("failed", error=runtime_error("Runtime.MarshalError", f"Unable to marshal response: {exc}"))
        return Outcome("succeeded", result=box["result"])

    def _run_in_worker(self, request_id: str, event: Any, invoked_arn: str) -> Outcome:
        try:
            worker = self._acquire_worker()
        except StartFailed as err:
            return Outcome("failed", error=err.error)
        message = {
            "request_id": request_id,
            "event": event,
            "deadline_ms": int((time.time() + self.spec.timeout) * 1000),
            "invoked_function_arn": invoked_arn,
        }
        try:
            reply = worker.invoke(message, self.spec.timeout)
        except WorkerTimedOut:
            self._release_worker(worker, keep=False)
            return _timed_out(self.spec, request_id)
        except WorkerExited as exc:
            self._release_worker(worker, keep=False)
            text = f"RequestId: {request_id} Error: Runtime exited with error: {exc}"
            return Outcome("failed", error=runtime_error("Runtime.ExitError", text))
        self._release_worker(worker, keep=True)
        if "error" in reply:
            return Outcome("failed", error=reply["error"])
        return Outcome("succeeded", result=reply["result"])

    def _worker_env(self) -> Dict[str, str]:
        spec = self.spec
        env = {**os.environ, **self._environ(), **spec.environment}
        # Set last: Lambda does not let a function's configuration override its reserved variables either.
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_TIMEOUT": f"{spec.timeout:g}",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name(),
                "_HANDLER": str(spec.handler),
            }
        )
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SOSW_ROOT, env.get("PYTHONPATH")]))
        return env

    def _acquire_worker(self) -> Worker:
        """A warm idle worker, else a new one as long as the function has fewer than its maximum.

        :raises StartFailed: The service stops, or a new worker could not load the handler.
        """
        with self._cond:
            while True:
                if self._closed:
                    raise StartFailed(runtime_error("Runtime.Unavailable", "The local Lambda service is stopping"))
                if self._idle:
                    worker = self._idle.pop()  # the most recently used, as Lambda prefers warm containers
                    if worker.alive():
                        return worker
                    self._containers -= 1
                    self._workers.discard(worker)
                    worker.kill()  # already dead: this only reaps it
                elif self._containers < self.spec.max_containers:
                    self._containers += 1
                    break
                else:
                    self._cond.wait()
        log_path = self._log_dir / f"{self.spec.name}.log" if self._log_dir else None
        assert isinstance(self.spec.handler, str)  # only run() with a "module.function" handler gets here
        try:
            worker = Worker(self.spec.name, self.spec.handler, self.spec.code_dir, self._worker_env(), log_path)
        except OSError as exc:
            with self._cond:
                self._containers -= 1
                self._cond.notify_all()
            raise StartFailed(runtime_error("Runtime.Unavailable", f"Cannot start a worker: {exc}")) from exc
        with self._cond:
            closed = self._closed
            if not closed:
                self._workers.add(worker)
        if closed:
            self._release_worker(worker, keep=False)
            raise StartFailed(runtime_error("Runtime.Unavailable", "The local Lambda service is stopping"))
        logger.debug("Started worker %s", worker.name)
        error = worker.wait_ready()
        if error is not None:
            self._release_worker(worker, keep=False)
            raise StartFailed(error)
        return worker

    def _release_worker(self, worker: Worker, keep: bool) -> None:
        """Return a worker to the warm pool, or kill it (after a timeout or crash, or when it is no longer wanted)."""
        with self._cond:
            if keep and not self._closed and not self._retired:
                self._idle.append(worker)
                self._cond.notify_all()
                return
        # Killed before its place is freed, so the function never has more live processes than its maximum.
        worker.kill()
        with self._cond:
            self._containers -= 1
            self._workers.discard(worker)
            self._cond.notify_all()
