"""
A local AWS Lambda service: an HTTP endpoint that implements the Lambda Invoke API and runs real handlers on this
machine, so that unmodified boto3 code (``boto3.client("lambda").invoke(...)``) works against it once
``AWS_ENDPOINT_URL_LAMBDA`` points at it. Every other Lambda API call is relayed to a moto server, so functions that
CloudFormation deployed into moto are visible through the same endpoint.

Handlers given as ``"module.function"`` run in warm worker processes (``python -m sosw.local._runner``, see
``sosw.local._runner`` for the protocol), reused across invocations like Lambda containers. Handlers given as
callables run in a thread of the service, for fast deterministic tests.

Standard library and boto3 only. For development, demos and tests; production is real AWS.
"""

import datetime
import http.server
import json
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Set, Tuple, Union

import boto3

from sosw.local._runner import LambdaContext, error_payload, runtime_error

logger = logging.getLogger(__name__)

#: The account moto serves by default; ARNs in answers use it.
ACCOUNT_ID = "123456789012"
#: Attempts Lambda makes for an Event invocation that fails: the first and two retries.
ASYNC_ATTEMPTS = 3
#: Warm processes per function (and Event invocations running at once) when it has no reserved concurrency.
DEFAULT_MAX_CONTAINERS = 10
#: Seconds a new process may take to import its handler, like the limit of Lambda's init phase.
INIT_TIMEOUT = 10.0
#: Seconds ``stop()`` waits for background invocations to finish after their processes were killed.
STOP_GRACE = 2.0
#: Counters kept per function in :attr:`LocalLambdaService.stats`.
COUNTERS = ("invoked", "succeeded", "failed", "retried", "throttled", "timed_out", "given_up")
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")

Handler = Callable[[Any, Any], Any]
CodeResolver = Callable[[str, Dict[str, Any]], Optional[Union[str, os.PathLike]]]

# What Lambda answers when a function runs as many invocations as its reserved concurrency allows.
_THROTTLED = {
    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
    "Type": "User",
    "message": "Rate Exceeded.",
}
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# Calls that change a function (UpdateFunctionConfiguration, UpdateFunctionCode, DeleteFunction, concurrency): the
# warm processes of a function deployed in moto then retire, as Lambda's containers do, and the next invocation
# starts from its new configuration (a config change reaches the function through its environment, see
# sosw.deployer.recycle_functions).
_FUNCTION_PATH = re.compile(r"^/20\d\d-\d\d-\d\d/functions/(?P<name>[^/]+)(?:/(?:configuration|code|concurrency))?/?$")
# Headers that describe one hop of a connection, or that the relaying side sets itself.
_NOT_RELAYED = {
    "connection",
    "content-length",
    "date",
    "expect",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "server",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
# Workers run ``python -m sosw.local._runner`` from the function's code directory, where sosw need not be installed.
_SOSW_ROOT = str(Path(__file__).resolve().parents[2])


class _Response(NamedTuple):
    status: int
    headers: List[Tuple[str, str]]
    body: bytes


class _ApiError(Exception):
    """An error answer of the Lambda API: ``x-amzn-ErrorType`` header and JSON body, which boto3 turns into
    ``client.exceptions.<error_type>``."""

    def __init__(self, status: int, error_type: str, body: Dict[str, Any]):
        super().__init__(f"{error_type}: {body}")
        self.response = _Response(
            status,
            [("x-amzn-ErrorType", error_type), ("Content-Type", "application/json"), ("x-amzn-RequestId", _uuid())],
            json.dumps(body).encode("utf-8"),
        )


class _Outcome(NamedTuple):
    status: str  # "succeeded", "failed" or "timed_out": also the name of the counter it increments
    result: Any = None
    error: Optional[Dict[str, Any]] = None


class _StartFailed(Exception):
    """No worker process could serve the invocation; ``error`` is the body to answer."""

    def __init__(self, error: Dict[str, Any]):
        super().__init__(error["errorMessage"])
        self.error = error


class _WorkerTimedOut(Exception):
    pass


class _WorkerExited(Exception):
    pass


def _uuid() -> str:
    return str(uuid.uuid4())


def _function_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


def _parse_function_name(reference: str) -> Tuple[str, Optional[str]]:
    """Name and qualifier of ``NAME[:Q]``, ``ACCOUNT:function:NAME[:Q]`` or
    ``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]``."""
    parts = reference.split(":")
    if reference.startswith("arn:"):
        parts = parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        parts = parts[2:]
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _log_stream_name() -> str:
    return f"{datetime.datetime.now(datetime.timezone.utc):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


def _not_found(message: str) -> _ApiError:
    return _ApiError(404, "ResourceNotFoundException", {"Type": "User", "Message": message})


class _Function:
    """A registered function, its concurrency accounting and its pool of warm workers (guarded by the service lock)."""

    def __init__(
        self,
        name: str,
        arn: str,
        handler: Union[str, Handler],
        timeout: float,
        reserved_concurrency: Optional[int],
        code_dir: Optional[str],
        environment: Dict[str, str],
        memory_size: int,
    ):
        self.name = name
        self.arn = arn
        self.handler = handler
        self.timeout = timeout
        self.reserved_concurrency = reserved_concurrency
        self.code_dir = code_dir
        self.environment = environment
        self.memory_size = memory_size
        self.max_containers = DEFAULT_MAX_CONTAINERS if reserved_concurrency is None else reserved_concurrency
        self.log_group_name = f"/aws/lambda/{name}"
        # The single "container" of a callable handler, which lives in the service process.
        self.in_process_log_stream = _log_stream_name()
        self.running = 0  # invocations holding a concurrency slot
        self.containers = 0  # worker processes alive or starting
        self.idle: List[_Worker] = []
        self.retired = False  # replaced by a new registration under the same name
        self.deployed = False  # registered from its configuration in moto, and read from there again when stale
        self.stale = False  # changed in moto since it was registered


class _Worker:
    """One ``sosw.local._runner`` process: a warm Lambda container serving one invocation at a time."""

    def __init__(self, function: _Function, env: Dict[str, str], log_path: Optional[Path]):
        assert isinstance(function.handler, str)
        command = [sys.executable, "-m", "sosw.local._runner", function.handler]
        if function.code_dir:
            command.append(function.code_dir)
        log = open(log_path, "ab") if log_path else None
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,  # None: the handler's output goes to the service's stderr
                env=env,
                cwd=function.code_dir,
                # Its own process group, so that a timeout kills whatever the handler started too.
                start_new_session=os.name == "posix",
            )
        finally:
            if log:
                log.close()
        self.name = f"{function.name}[{self.process.pid}]"
        self._replies: queue.Queue[Optional[Dict[str, Any]]] = queue.Queue()
        self._kill_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=f"lambda-reader:{self.name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self._replies.put(json.loads(line))
            except ValueError:
                logger.error("Worker %s broke the protocol with %r", self.name, line[:200])
                break
        self._replies.put(None)

    def _reply(self, timeout: float) -> Dict[str, Any]:
        try:
            reply = self._replies.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise _WorkerTimedOut() from None
        if reply is None:
            raise _WorkerExited(self._exit_status())
        return reply

    def _exit_status(self) -> str:
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "closed its protocol pipe"
        return f"exit status {code}" if code >= 0 else f"signal {-code}"

    def wait_ready(self) -> Optional[Dict[str, Any]]:
        """Wait for the handler to be imported.

        :returns: None when ready, else the error body to answer.
        """
        try:
            reply = self._reply(INIT_TIMEOUT)
        except _WorkerTimedOut:
            return runtime_error("Sandbox.Timedout", f"Init timed out after {INIT_TIMEOUT:.2f} seconds")
        except _WorkerExited as exc:
            return runtime_error("Runtime.ExitError", f"Runtime exited during init: {exc}")
        return None if reply.get("ready") else reply["error"]

    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, message: Dict[str, Any], timeout: float) -> Dict[str, Any]:
        """Send one invocation and wait for its reply.

        :raises _WorkerTimedOut: No reply within ``timeout`` seconds; the process still runs.
        :raises _WorkerExited: The process died.
        """
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except OSError:
            raise _WorkerExited(self._exit_status()) from None
        return self._reply(timeout)

    def kill(self) -> None:
        """Kill the process and its process group at once (Lambda gives no grace either), and reap it."""
        with self._kill_lock:
            # returncode is None until reaped: only then is the pid (and the group id) surely still ours.
            if self.process.returncode is None:
                try:
                    if os.name == "posix":
                        os.killpg(self.process.pid, signal.SIGKILL)
                    else:
                        self.process.kill()
                except ProcessLookupError:
                    pass
            self.process.wait()
            # The reader sees end of file once the process is gone; closing its pipe under it would race with it.
            self._reader.join(timeout=1)
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.close()
            if not self._reader.is_alive():
                self.process.stdout.close()


class _QueuedEvent:
    """An Event invocation waiting for a free slot, or for its retry delay to pass."""

    def __init__(self, function: str, request_id: str, payload: Any, invoked_arn: str):
        self.function = function
        self.request_id = request_id
        self.payload = payload
        self.invoked_arn = invoked_arn
        self.attempt = 1
        self.ready_at = 0.0  # time.monotonic() before which it must not run


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3 pools connections
    server: "_HttpServer"

    def setup(self) -> None:
        super().setup()
        self.server.service._track_connection(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.service._track_connection(self.connection, open_=False)

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        response = self.server.service._respond(self.command, self.path, self.headers, body)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: Tuple[str, int], service: "LocalLambdaService"):
        self.service = service
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping keep-alive connections, and stop() shutting them down, are routine here.
        logger.debug("Connection from %s failed", client_address, exc_info=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Relay redirects to the client as they are instead of following them."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class LocalLambdaService:
    """The Lambda Invoke API on 127.0.0.1, running registered handlers locally; everything else goes to moto.

    Invocation types behave as on Lambda: ``RequestResponse`` answers the handler's result (or its error with
    ``X-Amz-Function-Error: Unhandled``, or 429 beyond the reserved concurrency), ``Event`` answers 202 at once and
    runs the handler in the background with up to :data:`ASYNC_ATTEMPTS` attempts, ``DryRun`` answers 204.

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

    Callable handlers run in a thread of the service. A thread cannot be killed: past its timeout the invocation is
    reported timed out and its concurrency slot released, while the call runs on in the background and its result is
    dropped. Their ``environment`` is not applied (it would change the environment of the whole service process).

    Event invocations beyond the concurrency of a function wait in the queue, as Lambda keeps them; with a reserved
    concurrency of 0 they wait until :meth:`stop`.

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
    ):
        if len(async_retry_delays) != ASYNC_ATTEMPTS - 1 or min(async_retry_delays) < 0:
            raise ValueError(f"async_retry_delays needs {ASYNC_ATTEMPTS - 1} delays >= 0, got {async_retry_delays!r}")
        self.host = host
        self.port = port
        self.proxy_endpoint = proxy_endpoint.rstrip("/") if proxy_endpoint else None
        self.async_retry_delays = tuple(async_retry_delays)
        self.code_resolver = code_resolver
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-west-2"

        self._cond = threading.Condition()  # guards everything below
        self._functions: Dict[str, _Function] = {}
        self._stats: Dict[str, Dict[str, int]] = {}
        self._invocations: List[Dict[str, Any]] = []
        self._queue: List[_QueuedEvent] = []
        self._pending_events = 0  # accepted Event invocations not finished or given up
        self._workers: Set[_Worker] = set()
        self._threads: Set[threading.Thread] = set()  # running Event attempts
        self._stopping = False

        self._resolve_lock = threading.Lock()  # one lookup in moto at a time, so a function registers once
        self._connections: Set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
        self._server: Optional[_HttpServer] = None
        self._server_thread: Optional[threading.Thread] = None
        self._dispatcher: Optional[threading.Thread] = None

    # -- lifecycle --------------------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT`` of the running service."""
        if self._server is None:
            raise RuntimeError("LocalLambdaService is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def environ(self) -> Dict[str, str]:
        """Variables that send boto3 Lambda clients here (and leave other services alone)."""
        return {"AWS_ENDPOINT_URL_LAMBDA": self.endpoint}

    def start(self) -> "LocalLambdaService":
        """Listen and start dispatching Event invocations. A stopped service cannot be started again."""
        if self._server is not None or self._stopping:
            raise RuntimeError("LocalLambdaService was already started")
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self._server = _HttpServer((self.host, self.port), self)
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="lambda-http", daemon=True
        )
        self._dispatcher = threading.Thread(target=self._dispatch, name="lambda-dispatcher", daemon=True)
        self._server_thread.start()
        self._dispatcher.start()
        logger.info("Local Lambda service listening on %s", self.endpoint)
        return self

    def stop(self) -> None:
        """Stop listening, kill every worker process and wait briefly for background threads. Idempotent.

        Queued Event invocations are dropped; running ones end with the death of their process.
        """
        with self._cond:
            if self._server is None or self._stopping:
                return
            self._stopping = True
            workers = list(self._workers)
            self._workers.clear()
            for function in self._functions.values():
                function.idle.clear()
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for worker in workers:
            worker.kill()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        deadline = time.monotonic() + STOP_GRACE
        with self._cond:
            threads = [self._server_thread, self._dispatcher, *self._threads]
        for thread in threads:
            if thread is not None:
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
            waits. 0 throttles everything; None is unlimited (at most :data:`DEFAULT_MAX_CONTAINERS` processes).
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
        function = _Function(
            name=name,
            arn=_function_arn(self.region, name),
            handler=handler,
            timeout=float(timeout),
            reserved_concurrency=reserved_concurrency,
            code_dir=os.fspath(code_dir) if code_dir is not None else None,
            environment=dict(environment or {}),
            memory_size=memory_size,
        )
        with self._cond:
            previous = self._functions.get(name)
            self._functions[name] = function
            self._stats.setdefault(name, dict.fromkeys(COUNTERS, 0))
            retired: List[_Worker] = []
            if previous:
                previous.retired = True
                retired, previous.idle = previous.idle, []
                self._workers.difference_update(retired)
            self._cond.notify_all()
        for worker in retired:
            worker.kill()
        logger.debug("Registered function %s: %r", name, handler)

    @property
    def stats(self) -> Dict[str, Dict[str, int]]:
        """Counters per function name, a snapshot. ``invoked`` counts handler runs (every attempt, as Lambda's
        Invocations metric); each ends as ``succeeded``, ``failed`` (raised, crashed, or could not be loaded) or
        ``timed_out``. ``retried`` counts Event retries, ``given_up`` Event invocations dropped after the last attempt,
        ``throttled`` RequestResponse invocations answered 429."""
        with self._cond:
            return {name: dict(counters) for name, counters in self._stats.items()}

    @property
    def invocations(self) -> List[Dict[str, Any]]:
        """One record per attempt (and per throttled request), oldest first; a snapshot.

        Keys: ``function``, ``type`` (RequestResponse or Event), ``request_id``, ``payload`` (the event), ``attempt``
        (1-based), ``status`` (running, succeeded, failed, timed_out, throttled), ``result``, ``error`` (the error
        body), ``started_at`` (epoch seconds), ``duration`` (seconds, None while running).
        """
        with self._cond:
            return [dict(record) for record in self._invocations]

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no Event invocation is queued, running or waiting to retry.

        :param timeout: Seconds to wait at most.
        :returns: Whether the service became idle in time.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._pending_events == 0, timeout)

    # -- HTTP -------------------------------------------------------------------------------------------------------

    def _track_connection(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> _Response:
        match = _INVOKE_PATH.match(urllib.parse.urlsplit(path).path)
        try:
            if method == "POST" and match:
                return self._invoke(urllib.parse.unquote(match["name"]), path, headers, body)
            return self._relay(method, path, headers, body)
        except _ApiError as err:
            return err.response
        except Exception:
            logger.exception("Failed to serve %s %s", method, path)
            return _ApiError(500, "ServiceException", {"Type": "Service", "Message": "Internal error"}).response

    def _relay(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> _Response:
        if not self.proxy_endpoint:
            raise _not_found(f"No local Lambda API for {method} {path}: this service only implements Invoke")
        forwarded = {name: value for name, value in headers.items() if name.lower() not in _NOT_RELAYED}
        url = self.proxy_endpoint + path
        request = urllib.request.Request(url, data=body or None, headers=forwarded, method=method)
        try:
            with self._opener.open(request, timeout=60) as answer:
                status, answer_headers, answer_body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as err:
            status, answer_headers, answer_body = err.code, err.headers, err.read()
        except OSError as exc:
            raise _ApiError(
                502, "ServiceException", {"Type": "Service", "Message": f"{self.proxy_endpoint} unreachable: {exc}"}
            ) from exc
        relayed = [(name, value) for name, value in answer_headers.items() if name.lower() not in _NOT_RELAYED]
        changed = _FUNCTION_PATH.match(urllib.parse.urlsplit(path).path)
        if changed and method in ("PUT", "POST", "DELETE") and status < 300:
            self._mark_stale(_parse_function_name(urllib.parse.unquote(changed["name"]))[0])
        return _Response(status, relayed, answer_body)

    def _mark_stale(self, name: str) -> None:
        with self._cond:
            function = self._functions.get(name)
            if function is not None and function.deployed:
                function.stale = True
                logger.info("%s changed in %s: the next invocation reads it again", name, self.proxy_endpoint)

    def _invoke(self, reference: str, path: str, headers: Mapping[str, str], body: bytes) -> _Response:
        name, qualifier = _parse_function_name(reference)
        qualifier = qualifier or urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("Qualifier", [None])[0]
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            raise _ApiError(
                400,
                "InvalidParameterValueException",
                {"Type": "User", "message": f"Unsupported InvocationType {invocation_type!r}"},
            )
        function = self._lookup(name)
        if invocation_type == "DryRun":
            return _Response(204, [("x-amzn-RequestId", _uuid())], b"")
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            raise _ApiError(
                400,
                "InvalidRequestContentException",
                {"Type": "User", "message": f"Could not parse request body into json: {exc}"},
            ) from exc
        request_id = _uuid()
        invoked_arn = f"{function.arn}:{qualifier}" if qualifier else function.arn
        if invocation_type == "Event":
            with self._cond:
                self._queue.append(_QueuedEvent(function.name, request_id, payload, invoked_arn))
                self._pending_events += 1
                self._cond.notify_all()
            return _Response(202, [("x-amzn-RequestId", request_id)], b"")
        return self._invoke_sync(function, request_id, payload, invoked_arn)

    def _lookup(self, name: str) -> _Function:
        with self._cond:
            function = self._functions.get(name)
        if function and not function.stale:
            return function
        arn = _function_arn(self.region, name)
        if not self.proxy_endpoint:
            raise _not_found(f"Function not found: {arn}")
        with self._resolve_lock:
            with self._cond:
                function = self._functions.get(name)
            if function and not function.stale:
                return function
            return self._register_deployed(name, arn)

    def _register_deployed(self, name: str, arn: str) -> _Function:
        """Register a function deployed into moto, with its configuration there and the code ``code_resolver`` finds."""
        client = boto3.client("lambda", endpoint_url=self.proxy_endpoint, region_name=self.region)
        try:
            configuration = client.get_function(FunctionName=name)["Configuration"]
        except client.exceptions.ResourceNotFoundException:
            raise _not_found(f"Function not found: {arn}") from None
        concurrency = client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        code_dir = self.code_resolver(name, configuration) if self.code_resolver else None
        if code_dir is None:
            raise _not_found(f"Function {arn} is deployed, but no local code is known for it (code_resolver gave none)")
        self.register(
            name,
            configuration["Handler"],
            timeout=configuration.get("Timeout", 3),
            reserved_concurrency=concurrency,
            code_dir=code_dir,
            environment=configuration.get("Environment", {}).get("Variables"),
            memory_size=configuration.get("MemorySize", 128),
        )
        logger.info("Registered deployed function %s from %s with code in %s", name, self.proxy_endpoint, code_dir)
        with self._cond:
            self._functions[name].deployed = True
            return self._functions[name]

    # -- running ----------------------------------------------------------------------------------------------------

    def _invoke_sync(self, function: _Function, request_id: str, payload: Any, invoked_arn: str) -> _Response:
        with self._cond:
            limit = function.reserved_concurrency
            if limit is not None and function.running >= limit:
                self._stats[function.name]["throttled"] += 1
                self._invocations.append(self._record(function, "RequestResponse", request_id, payload, 1, "throttled"))
                throttled = True
            else:
                function.running += 1
                throttled = False
        if throttled:
            logger.info("Throttled %s: all %d of its reserved invocations run", function.name, limit)
            raise _ApiError(429, "TooManyRequestsException", _THROTTLED)
        try:
            outcome = self._execute(function, "RequestResponse", request_id, payload, invoked_arn, attempt=1)
        finally:
            with self._cond:
                function.running -= 1
                self._cond.notify_all()
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
        headers.append(("x-amzn-RequestId", request_id))
        if outcome.error is not None:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
            return _Response(200, headers, json.dumps(outcome.error).encode("utf-8"))
        return _Response(200, headers, json.dumps(outcome.result).encode("utf-8"))

    @staticmethod
    def _record(
        function: _Function, invocation_type: str, request_id: str, payload: Any, attempt: int, status: str
    ) -> Dict[str, Any]:
        return {
            "function": function.name,
            "type": invocation_type,
            "request_id": request_id,
            "payload": payload,
            "attempt": attempt,
            "status": status,
            "result": None,
            "error": None,
            "started_at": time.time(),
            "duration": None,
        }

    def _execute(
        self, function: _Function, invocation_type: str, request_id: str, payload: Any, invoked_arn: str, attempt: int
    ) -> _Outcome:
        """Run one attempt, keeping its record and the counters. The caller holds a concurrency slot."""
        record = self._record(function, invocation_type, request_id, payload, attempt, "running")
        with self._cond:
            self._invocations.append(record)
            self._stats[function.name]["invoked"] += 1
        started = time.monotonic()
        # A fresh copy per attempt: a handler that changes its event must not change the retry's event.
        event = json.loads(json.dumps(payload))
        if isinstance(function.handler, str):
            outcome = self._run_in_worker(function, request_id, event, invoked_arn)
        else:
            outcome = self._run_in_thread(function, request_id, event, invoked_arn)
        with self._cond:
            record.update(
                status=outcome.status, result=outcome.result, error=outcome.error, duration=time.monotonic() - started
            )
            self._stats[function.name][outcome.status] += 1
        if outcome.status == "timed_out":
            logger.warning("%s invocation %s of %s timed out", invocation_type, request_id, function.name)
        elif outcome.status == "failed":
            logger.info("%s invocation %s of %s failed: %s", invocation_type, request_id, function.name, outcome.error)
        return outcome

    @staticmethod
    def _timed_out(function: _Function, request_id: str) -> _Outcome:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        message = f"{stamp} {request_id} Task timed out after {function.timeout:.2f} seconds"
        return _Outcome("timed_out", error=runtime_error("Sandbox.Timedout", message))

    def _run_in_thread(self, function: _Function, request_id: str, event: Any, invoked_arn: str) -> _Outcome:
        assert callable(function.handler)
        handler = function.handler
        context = LambdaContext(
            aws_request_id=request_id,
            invoked_function_arn=invoked_arn,
            function_name=function.name,
            function_version="$LATEST",
            memory_limit_in_mb=function.memory_size,
            log_group_name=function.log_group_name,
            log_stream_name=function.in_process_log_stream,
            deadline_ms=int((time.time() + function.timeout) * 1000),
        )
        box: Dict[str, Any] = {}

        def call() -> None:
            try:
                box["result"] = handler(event, context)
            except Exception as exc:
                box["error"] = error_payload(exc)

        thread = threading.Thread(target=call, name=f"lambda:{function.name}:{request_id}", daemon=True)
        thread.start()
        thread.join(function.timeout)
        if thread.is_alive():
            return self._timed_out(function, request_id)
        if "error" in box:
            return _Outcome("failed", error=box["error"])
        try:
            json.dumps(box["result"])
        except (TypeError, ValueError) as exc:
            return _Outcome("failed", error=runtime_error("Runtime.MarshalError", f"Unable to marshal response: {exc}"))
        return _Outcome("succeeded", result=box["result"])

    def _run_in_worker(self, function: _Function, request_id: str, event: Any, invoked_arn: str) -> _Outcome:
        try:
            worker = self._acquire_worker(function)
        except _StartFailed as err:
            return _Outcome("failed", error=err.error)
        message = {
            "request_id": request_id,
            "event": event,
            "deadline_ms": int((time.time() + function.timeout) * 1000),
            "invoked_function_arn": invoked_arn,
        }
        try:
            reply = worker.invoke(message, function.timeout)
        except _WorkerTimedOut:
            self._release_worker(function, worker, keep=False)
            return self._timed_out(function, request_id)
        except _WorkerExited as exc:
            self._release_worker(function, worker, keep=False)
            message = f"RequestId: {request_id} Error: Runtime exited with error: {exc}"
            return _Outcome("failed", error=runtime_error("Runtime.ExitError", message))
        self._release_worker(function, worker, keep=True)
        if "error" in reply:
            return _Outcome("failed", error=reply["error"])
        return _Outcome("succeeded", result=reply["result"])

    def _worker_env(self, function: _Function) -> Dict[str, str]:
        env = {**os.environ, **self.environ(), **function.environment}
        # Set last: Lambda does not let a function's configuration override its reserved variables either.
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_TIMEOUT": f"{function.timeout:g}",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": _log_stream_name(),
                "_HANDLER": str(function.handler),
            }
        )
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SOSW_ROOT, env.get("PYTHONPATH")]))
        return env

    def _acquire_worker(self, function: _Function) -> _Worker:
        """A warm idle worker of the function, else a new one as long as the function has fewer than its maximum.

        :raises _StartFailed: The service stops, or a new worker could not load the handler.
        """
        with self._cond:
            while True:
                if self._stopping:
                    raise _StartFailed(runtime_error("Runtime.Unavailable", "The local Lambda service is stopping"))
                if function.idle:
                    worker = function.idle.pop()  # the most recently used, as Lambda prefers warm containers
                    if worker.alive():
                        return worker
                    function.containers -= 1
                    self._workers.discard(worker)
                    worker.kill()  # already dead: this only reaps it
                elif function.containers < function.max_containers:
                    function.containers += 1
                    break
                else:
                    self._cond.wait()
        log_path = self.log_dir / f"{function.name}.log" if self.log_dir else None
        try:
            worker = _Worker(function, self._worker_env(function), log_path)
        except OSError as exc:
            with self._cond:
                function.containers -= 1
                self._cond.notify_all()
            raise _StartFailed(runtime_error("Runtime.Unavailable", f"Cannot start a worker: {exc}")) from exc
        with self._cond:
            stopping = self._stopping
            if not stopping:
                self._workers.add(worker)
        if stopping:
            self._release_worker(function, worker, keep=False)
            raise _StartFailed(runtime_error("Runtime.Unavailable", "The local Lambda service is stopping"))
        logger.debug("Started worker %s", worker.name)
        error = worker.wait_ready()
        if error is not None:
            self._release_worker(function, worker, keep=False)
            raise _StartFailed(error)
        return worker

    def _release_worker(self, function: _Function, worker: _Worker, keep: bool) -> None:
        """Return a worker to the warm pool, or kill it (after a timeout or crash, or when it is no longer wanted)."""
        with self._cond:
            keep = keep and not self._stopping and not function.retired
            if keep:
                function.idle.append(worker)
                self._cond.notify_all()
                return
        # Killed before its place is freed, so the function never has more live processes than its maximum.
        worker.kill()
        with self._cond:
            function.containers -= 1
            self._workers.discard(worker)
            self._cond.notify_all()

    # -- Event invocations ------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start queued Event invocations whose retry delay passed, as their functions get free slots."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                wake_at: Optional[float] = None
                for job in self._queue:
                    function = self._functions[job.function]
                    if job.ready_at > now:
                        wake_at = job.ready_at if wake_at is None else min(wake_at, job.ready_at)
                    elif function.running < function.max_containers:
                        break
                else:
                    self._cond.wait(None if wake_at is None else wake_at - now)
                    continue
                self._queue.remove(job)
                function.running += 1
                thread = threading.Thread(
                    target=self._run_event, args=(function, job), name=f"lambda-event:{job.request_id}", daemon=True
                )
                self._threads.add(thread)
                thread.start()

    def _run_event(self, function: _Function, job: _QueuedEvent) -> None:
        outcome: Optional[_Outcome] = None
        try:
            outcome = self._execute(function, "Event", job.request_id, job.payload, job.invoked_arn, job.attempt)
        finally:
            with self._cond:
                function.running -= 1
                self._threads.discard(threading.current_thread())
                if (outcome is not None and outcome.status == "succeeded") or self._stopping:
                    self._pending_events -= 1
                elif job.attempt < ASYNC_ATTEMPTS:
                    job.ready_at = time.monotonic() + self.async_retry_delays[job.attempt - 1]
                    job.attempt += 1
                    self._queue.append(job)
                    self._stats[function.name]["retried"] += 1
                else:
                    self._stats[function.name]["given_up"] += 1
                    self._pending_events -= 1
                    logger.warning(
                        "Gave up on Event invocation %s of %s after %d attempts: %s",
                        job.request_id,
                        function.name,
                        job.attempt,
                        outcome.error if outcome else "internal error",
                    )
                self._cond.notify_all()
