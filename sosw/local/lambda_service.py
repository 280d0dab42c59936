"""
A local AWS Lambda service: an HTTP endpoint that implements the Lambda Invoke API and runs real handlers on this
machine, so that unmodified boto3 code (``boto3.client("lambda").invoke(...)``) works against it once
``AWS_ENDPOINT_URL_LAMBDA`` points at it. Every other Lambda API call is relayed to a moto server, so functions that
CloudFormation deployed into moto are visible through the same endpoint.

Handlers given as ``"module.function"`` run in warm worker processes (``python -m sosw.local._runner``, see
``sosw.local._runner`` for the protocol), reused across invocations like Lambda containers. Handlers given as
callables run in a thread of the service, for fast deterministic tests.

:class:`LocalLambdaService` is a facade over parts each readable on its own, the way Chalice splits its local server:
the HTTP server (``_http``), the Lambda API gateway and the moto relay (``_routing``), the function registry
(``_registry``), one pool of containers per function with its own lock (``_pool``, ``_worker``), the asynchronous
invoker with its retries, EventInvokeConfig and injectable clock (``_async``), and the invocation log (``_log``).

Standard library and boto3 only. For development, demos and tests; production is real AWS.
"""

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from sosw.local._async import AsyncInvoker
from sosw.local._http import ApiError, HttpServer, Response
from sosw.local._log import InvocationLog
from sosw.local._pool import FunctionSpec, Handler, Outcome, WorkerPool
from sosw.local._registry import CodeResolver, Function, FunctionRegistry, function_arn
from sosw.local._routing import LambdaApi, MotoRelay
from sosw.local.constants import (
    ACCOUNT_ID,
    ASYNC_ATTEMPTS,
    COUNTERS,
    DEFAULT_MAX_CONTAINERS,
    INIT_TIMEOUT,
    INVOCATION_TYPES,
    STOP_GRACE,
)

__all__ = ["ACCOUNT_ID", "ASYNC_ATTEMPTS", "COUNTERS", "DEFAULT_MAX_CONTAINERS", "INIT_TIMEOUT", "INVOCATION_TYPES",
           "STOP_GRACE", "CodeResolver", "Handler", "LocalLambdaService"]

logger = logging.getLogger(__name__)

# What Lambda answers when a function runs as many invocations as its reserved concurrency allows.
_THROTTLED = {
    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
    "Type": "User",
    "message": "Rate Exceeded.",
}


class LocalLambdaService:
    """The Lambda Invoke API on 127.0.0.1, running registered handlers locally; everything else goes to moto.

    Invocation types behave as on Lambda: ``RequestResponse`` answers the handler's result (or its error with
    ``X-Amz-Function-Error: Unhandled``, or 429 beyond the reserved concurrency), ``Event`` answers 202 at once and
    runs the handler in the background with up to :data:`~sosw.local.constants.ASYNC_ATTEMPTS` attempts, ``DryRun``
    answers 204.

    A function's EventInvokeConfig applies to its Event invocations: ``MaximumRetryAttempts`` (0 to 2) limits the
    retries, and an event older than ``MaximumEventAgeInSeconds`` (while it waits for a slot or for its retry) is
    dropped and counted ``given_up``. The service keeps the EventInvokeConfig of a function registered here
    (PutFunctionEventInvokeConfig and the rest of that API answer here); a function deployed into moto has it there,
    from the API or from its template's ``AWS::Lambda::EventInvokeConfig`` (see ``sosw.local._moto_main``).

    :param host: Interface to listen on.
    :param port: Port to listen on; 0 picks a free one.
    :param proxy_endpoint: A moto server (``http://127.0.0.1:PORT``). Every request that is not an Invoke is relayed to
        it, and functions invoked but not registered are looked up there (see ``code_resolver``). None: such requests
        get 404.
    :param async_retry_delays: Seconds to wait before the first and the second retry of a failed Event invocation.
    :param code_resolver: ``(function_name, configuration) -> code directory or None``, called for a function that is
        invoked but not registered and exists in ``proxy_endpoint``, with its GetFunction ``Configuration``. A
        directory registers the function from its deployed configuration; None makes the invocation fail with
        ``ResourceNotFoundException``.
    :param log_dir: Directory for one ``NAME.log`` per function with what its worker processes print. None: they print
        to the service's stderr.
    :param region: Region of the functions' ARNs (and of moto lookups); else ``AWS_REGION``, else ``us-west-2``.
    :param clock: Seconds of a monotonic clock, for the retry delays and the age of Event invocations;
        ``time.monotonic`` by default. A test that moves a clock of its own calls :meth:`wake` after each move.

    Callable handlers run in a thread of the service. A thread cannot be killed: past its timeout the invocation is
    reported timed out and its concurrency slot released, while the call runs on in the background and its result is
    dropped. Their ``environment`` is not applied (it would change the environment of the whole service process).

    Event invocations beyond the concurrency of a function wait in the queue, as Lambda keeps them; with a reserved
    concurrency of 0 they wait until :meth:`stop` (or until they are older than ``MaximumEventAgeInSeconds``).

    .. code-block:: python

        with MotoServer() as moto, LocalLambdaService(proxy_endpoint=moto.endpoint) as lambdas:
            os.environ.update({**moto.environ(), **lambdas.environ()})
            lambdas.register("worker", "app.handler", code_dir="src", timeout=30)
            boto3.client("lambda").invoke(FunctionName="worker", InvocationType="Event", Payload=b'{"job": 1}')
            lambdas.wait_idle(timeout=60)
            print(lambdas.stats["worker"])
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        proxy_endpoint: Optional[str] = None,
        async_retry_delays: Tuple[float, float] = (1.0, 2.0),
        code_resolver: Optional[CodeResolver] = None,
        log_dir: Optional[Union[str, os.PathLike]] = None,
        region: Optional[str] = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        if len(async_retry_delays) != ASYNC_ATTEMPTS - 1 or min(async_retry_delays) < 0:
            raise ValueError(f"async_retry_delays needs {ASYNC_ATTEMPTS - 1} delays >= 0, got {async_retry_delays!r}")
        self.host = host
        self.port = port
        self.proxy_endpoint = proxy_endpoint.rstrip("/") if proxy_endpoint else None
        self.async_retry_delays = tuple(async_retry_delays)
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-west-2"

        self._log = InvocationLog()
        self._registry = FunctionRegistry(self.region, self.proxy_endpoint, code_resolver, self._new_pool)
        self._invoker = AsyncInvoker(self._registry, self._run_event_attempt, self._log, self.async_retry_delays,
                                     clock=clock)
        relay = MotoRelay(self.proxy_endpoint) if self.proxy_endpoint else None
        self._api = LambdaApi(self._registry, self._invoke_sync, self._invoker.enqueue, relay)
        self._server: Optional[HttpServer] = None
        self._lifecycle = threading.Lock()
        self._stopped = False

    # -- lifecycle --------------------------------------------------------------------------------------------------

    @property
    def code_resolver(self) -> Optional[CodeResolver]:
        """Finds the local code of a deployed function (see the constructor); may be set at any time."""
        return self._registry.code_resolver

    @code_resolver.setter
    def code_resolver(self, resolver: Optional[CodeResolver]) -> None:
        self._registry.code_resolver = resolver

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT`` of the running service."""
        if self._server is None:
            raise RuntimeError("LocalLambdaService is not started")
        return f"http://{self.host}:{self._server.port}"

    def environ(self) -> Dict[str, str]:
        """Variables that send boto3 Lambda clients here (and leave other services alone)."""
        return {"AWS_ENDPOINT_URL_LAMBDA": self.endpoint}

    def start(self) -> "LocalLambdaService":
        """Listen and start dispatching Event invocations. A stopped service cannot be started again."""
        with self._lifecycle:
            if self._server is not None or self._stopped:
                raise RuntimeError("LocalLambdaService was already started")
            if self.log_dir:
                self.log_dir.mkdir(parents=True, exist_ok=True)
            self._server = HttpServer(self.host, self.port, self._api.respond)
        self._server.start()
        self._invoker.start()
        logger.info("Local Lambda service listening on %s", self.endpoint)
        return self

    def stop(self) -> None:
        """Stop listening, kill every worker process and wait briefly for background threads. Idempotent.

        Queued Event invocations are dropped; running ones end with the death of their process.
        """
        with self._lifecycle:
            if self._server is None or self._stopped:
                return
            self._stopped = True
        threads = self._invoker.stop()
        self._registry.close()
        self._server.stop()
        deadline = time.monotonic() + STOP_GRACE
        for thread in [self._server.thread, *threads]:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning("Thread %s still runs after stop (a callable handler cannot be killed)", thread.name)
        logger.info("Local Lambda service stopped")

    def __enter__(self) -> "LocalLambdaService":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- functions --------------------------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        handler: Union[str, Handler],
        *,
        timeout: float = 3.0,
        reserved_concurrency: Optional[int] = None,
        code_dir: Optional[Union[str, os.PathLike]] = None,
        environment: Optional[Mapping[str, str]] = None,
        memory_size: int = 128,
    ) -> None:
        """Make ``name`` invokable. Registering a name again replaces the function; its warm processes are retired.

        :param name: The function name (callers may also use its ARN).
        :param handler: ``"module.function"``, run in warm worker processes, or a callable ``(event, context)`` run in a
            thread of the service.
        :param timeout: Seconds an invocation may run before it is killed and reported timed out.
        :param reserved_concurrency: Invocations that may run at once; RequestResponse beyond it is throttled, Event
            waits. 0 throttles everything; None is unlimited (at most
            :data:`~sosw.local.constants.DEFAULT_MAX_CONTAINERS` processes).
        :param code_dir: Directory the handler module is imported from; first on ``sys.path`` and the working directory
            of the process.
        :param environment: Variables set for the handler on top of the service's own environment (as it is when a
            worker process starts).
        :param memory_size: Reported by ``context.memory_limit_in_mb``; not enforced.
        """
        if not (isinstance(handler, str) or callable(handler)):
            raise TypeError(f"handler must be 'module.function' or a callable, got {handler!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        if reserved_concurrency is not None and reserved_concurrency < 0:
            raise ValueError(f"reserved_concurrency must be >= 0 or None, got {reserved_concurrency!r}")
        spec = FunctionSpec(
            name=name,
            arn=function_arn(self.region, name),
            handler=handler,
            timeout=float(timeout),
            reserved_concurrency=reserved_concurrency,
            code_dir=os.fspath(code_dir) if code_dir is not None else None,
            environment=dict(environment or {}),
            memory_size=memory_size,
        )
        self._registry.register(spec)
        logger.debug("Registered function %s: %r", name, handler)

    def _new_pool(self, spec: FunctionSpec) -> WorkerPool:
        self._log.add_function(spec.name)
        return WorkerPool(spec, self.environ, self.log_dir, on_slot_freed=self._invoker.wake)

    @property
    def stats(self) -> Dict[str, Dict[str, int]]:
        """Counters per function name, a snapshot. ``invoked`` counts handler runs (every attempt, as Lambda's
        Invocations metric); each ends as ``succeeded``, ``failed`` (raised, crashed, or could not be loaded) or
        ``timed_out``. ``retried`` counts Event retries, ``given_up`` Event invocations dropped after the last attempt
        (or past their ``MaximumEventAgeInSeconds``), ``throttled`` RequestResponse invocations answered 429. The keys
        are :data:`~sosw.local.constants.COUNTERS`."""
        return self._log.stats

    @property
    def invocations(self) -> List[Dict[str, Any]]:
        """One record per attempt (and per throttled request), oldest first; a snapshot.

        Keys: ``function``, ``type`` (RequestResponse or Event), ``request_id``, ``payload`` (the event), ``attempt``
        (1-based), ``status`` (running, succeeded, failed, timed_out, throttled), ``result``, ``error`` (the error
        body), ``started_at`` (epoch seconds), ``duration`` (seconds, None while running).
        """
        return self._log.records

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no Event invocation is queued, running or waiting to retry.

        :param timeout: Seconds to wait at most.
        :returns: Whether the service became idle in time.
        """
        return self._invoker.wait_idle(timeout)

    def wake(self) -> None:
        """Look at the queued Event invocations again; call it after moving the ``clock`` given to the constructor."""
        self._invoker.wake()

    # -- running ----------------------------------------------------------------------------------------------------

    def _invoke_sync(self, function: Function, request_id: str, payload: Any, invoked_arn: str) -> Response:
        limit = function.spec.reserved_concurrency
        if not function.pool.try_take_slot(limit):
            self._log.throttled(function.name, "RequestResponse", request_id, payload)
            logger.info("Throttled %s: all %d of its reserved invocations run", function.name, limit)
            raise ApiError(429, "TooManyRequestsException", _THROTTLED)
        try:
            outcome = self._execute(function, "RequestResponse", request_id, payload, invoked_arn, attempt=1)
        finally:
            function.pool.release_slot()
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
        headers.append(("x-amzn-RequestId", request_id))
        if outcome.error is not None:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
            return Response(200, headers, json.dumps(outcome.error).encode("utf-8"))
        return Response(200, headers, json.dumps(outcome.result).encode("utf-8"))

    def _run_event_attempt(self, function: Function, request_id: str, payload: Any, invoked_arn: str,
                           attempt: int) -> Outcome:
        return self._execute(function, "Event", request_id, payload, invoked_arn, attempt)

    def _execute(self, function: Function, invocation_type: str, request_id: str, payload: Any, invoked_arn: str,
                 attempt: int) -> Outcome:
        """Run one attempt, keeping its record and the counters. The caller holds a concurrency slot."""
        record = self._log.start(function.name, invocation_type, request_id, payload, attempt)
        started = time.monotonic()
        # A fresh copy per attempt: a handler that changes its event must not change the retry's event.
        event = json.loads(json.dumps(payload))
        outcome = function.pool.run(request_id, event, invoked_arn)
        self._log.finish(function.name, record, outcome, time.monotonic() - started)
        if outcome.status == "timed_out":
            logger.warning("%s invocation %s of %s timed out", invocation_type, request_id, function.name)
        elif outcome.status == "failed":
            logger.info("%s invocation %s of %s failed: %s", invocation_type, request_id, function.name, outcome.error)
        return outcome
