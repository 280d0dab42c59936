"""
The process that hosts one Lambda handler for :mod:`sosw.local.lambda_service`: a warm container, reused across
invocations, so module-level state survives between them as it does on AWS Lambda.

Started as ``python -m sosw.local._runner HANDLER [CODE_DIR]``, where ``HANDLER`` is ``module.function`` and
``CODE_DIR`` goes first on ``sys.path``. The function's name, version, memory size and log names come from the
``AWS_LAMBDA_*`` environment variables the service sets, as on Lambda.

Protocol: JSON lines over pipes. The runner keeps private duplicates of its original stdin and stdout for it and points
file descriptors 0 and 1 at ``/dev/null`` and stderr, so whatever the handler (or a child process of it) prints lands in
the log, never in the protocol.

- runner → service, once after importing the handler: ``{"ready": true}``, or ``{"ready": false, "error": ERROR}``
  after which the runner exits.
- service → runner, one line per invocation:
  ``{"request_id": str, "event": any, "deadline_ms": epoch milliseconds, "invoked_function_arn": str}``.
- runner → service, one line per invocation: ``{"request_id": str, "result": any}`` or
  ``{"request_id": str, "error": ERROR}``.

``ERROR`` is what Lambda answers for an unhandled error: ``{"errorMessage": str, "errorType": str, "stackTrace":
[str]}``. The runner exits when its stdin closes. Timeouts are the service's business: it kills the process group.

Standard library only: the runner must start fast and must not drag the service's dependencies into the handler.
"""

import importlib
import io
import json
import os
import sys
import time
import traceback
from typing import Any, BinaryIO, Callable, Dict, List, Optional, Tuple, cast

Handler = Callable[[Any, "LambdaContext"], Any]


class LambdaContext:
    """The ``context`` argument of a handler, with the attributes and method of the one AWS Lambda passes.

    :param aws_request_id: Id of this invocation (a uuid4).
    :param invoked_function_arn: ARN the caller used, with a qualifier if it gave one.
    :param function_name: Name of the function.
    :param function_version: Always ``$LATEST`` locally.
    :param memory_limit_in_mb: Configured memory; not enforced.
    :param log_group_name: ``/aws/lambda/NAME``.
    :param log_stream_name: Name of the container's log stream.
    :param deadline_ms: Epoch milliseconds at which the invocation times out.

    .. code-block:: python

        context = LambdaContext(aws_request_id=str(uuid.uuid4()), invoked_function_arn=arn, function_name="worker",
                                function_version="$LATEST", memory_limit_in_mb=128,
                                log_group_name="/aws/lambda/worker", log_stream_name="2026/01/01/[$LATEST]abc",
                                deadline_ms=int(time.time() * 1000) + 3000)
        context.get_remaining_time_in_millis()  # about 3000
    """

    def __init__(
        self,
        *,
        aws_request_id: str,
        invoked_function_arn: str,
        function_name: str,
        function_version: str,
        memory_limit_in_mb: int,
        log_group_name: str,
        log_stream_name: str,
        deadline_ms: int,
    ):
        self.aws_request_id = aws_request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        # Lambda sets these for mobile SDK callers only; handlers written for Lambda may still read them.
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out, never negative."""
        return max(0, int(self._deadline_ms - time.time() * 1000))


def error_payload(exc: BaseException) -> Dict[str, Any]:
    """The body Lambda answers for an exception a handler raised.

    :param exc: The exception, caught by the frame that called the handler; that frame is left out of the stack trace,
        as Lambda leaves out its runtime's frames.
    """
    frames = traceback.extract_tb(exc.__traceback__)[1:]
    return {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": traceback.format_list(frames)}


def runtime_error(error_type: str, message: str) -> Dict[str, Any]:
    """The body Lambda answers for an error of its own runtime (timeout, crash, bad handler), which has no stack trace.

    :param error_type: E.g. ``Runtime.ExitError``.
    :param message: What happened.
    """
    return {"errorMessage": message, "errorType": error_type, "stackTrace": []}


def log_error(error: Dict[str, Any]) -> None:
    """Write an unhandled error to the function's log as Lambda's Python runtime does: ``[ERROR] Type: message``
    and the traceback, so that the log alone tells why an invocation failed.

    :param error: ``{"errorMessage", "errorType", "stackTrace"}``.
    """
    trace = "".join(error["stackTrace"])
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if trace:
        lines.append("Traceback (most recent call last):\n" + trace.rstrip("\n"))
    print("\n".join(lines), file=sys.stderr, flush=True)


class HandlerInitError(Exception):
    """The handler could not be loaded; ``error`` is the body Lambda would answer.

    :param error: ``{"errorMessage", "errorType", "stackTrace"}``.
    """

    def __init__(self, error: Dict[str, Any]):
        super().__init__(error["errorMessage"])
        self.error = error


def load_handler(spec: str) -> Handler:
    """Import ``module.function`` (``package/module.function`` works too, as on Lambda).

    :param spec: The handler setting of the function.
    :raises HandlerInitError: With the error body Lambda answers when the handler cannot be loaded.
    """
    module_name, _, attribute = spec.rpartition(".")
    if not module_name or not attribute:
        raise HandlerInitError(runtime_error("Runtime.MalformedHandlerName", f"Bad handler '{spec}'"))
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except (ImportError, SyntaxError) as exc:
        raise HandlerInitError(
            runtime_error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
        ) from exc
    except Exception as exc:
        raise HandlerInitError(error_payload(exc)) from exc
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise HandlerInitError(
            runtime_error("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'")
        )
    return handler


def _context(message: Dict[str, Any]) -> LambdaContext:
    env = os.environ
    return LambdaContext(
        aws_request_id=message["request_id"],
        invoked_function_arn=message["invoked_function_arn"],
        function_name=env["AWS_LAMBDA_FUNCTION_NAME"],
        function_version=env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        memory_limit_in_mb=int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
        log_group_name=env.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
        log_stream_name=env.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
        deadline_ms=message["deadline_ms"],
    )


def _invoke(handler: Handler, message: Dict[str, Any]) -> bytes:
    """Run one invocation and encode the reply line, logging START/END/REPORT lines like Lambda."""
    request_id = message["request_id"]
    print(f"START RequestId: {request_id} Version: $LATEST", file=sys.stderr)
    started = time.monotonic()
    reply: Dict[str, Any] = {"request_id": request_id}
    try:
        reply["result"] = handler(message["event"], _context(message))
    except Exception as exc:
        reply["error"] = error_payload(exc)
        log_error(reply["error"])
    duration_ms = (time.monotonic() - started) * 1000
    print(f"END RequestId: {request_id}", file=sys.stderr)
    print(f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms", file=sys.stderr)
    try:
        line = json.dumps(reply)
    except (TypeError, ValueError) as exc:
        error = runtime_error("Runtime.MarshalError", f"Unable to marshal response: {exc}")
        line = json.dumps({"request_id": request_id, "error": error})
    return line.encode("utf-8") + b"\n"


def _take_protocol_pipes() -> Tuple[BinaryIO, BinaryIO]:
    """Keep the pipes to the service private and give the handler ``/dev/null`` as stdin and the log as stdout."""
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    # Line buffering, so that a handler's prints reach the log before it is killed at a timeout.
    for stream in (sys.stdout, sys.stderr):
        # Text wrappers of file descriptors in a process of its own; typed as plain TextIO, which cannot reconfigure.
        cast(io.TextIOWrapper, stream).reconfigure(line_buffering=True)
    return protocol_in, protocol_out


def _send(protocol_out: BinaryIO, line: bytes) -> None:
    # A buffered write, flushed: one raw write on a pipe may take only part of a large reply.
    protocol_out.write(line)
    protocol_out.flush()


def main(argv: Optional[List[str]] = None) -> int:
    """Load the handler, then serve invocations until stdin closes.

    :param argv: ``[HANDLER]`` or ``[HANDLER, CODE_DIR]``; defaults to ``sys.argv[1:]``.
    :returns: The exit code: 0 when stdin closed, 1 when the handler could not be loaded.
    """
    argv = sys.argv[1:] if argv is None else argv
    protocol_in, protocol_out = _take_protocol_pipes()
    if len(argv) > 1:
        sys.path.insert(0, argv[1])
    try:
        handler = load_handler(argv[0])
    except HandlerInitError as err:
        log_error(err.error)
        _send(protocol_out, json.dumps({"ready": False, "error": err.error}).encode("utf-8") + b"\n")
        return 1
    _send(protocol_out, b'{"ready": true}\n')
    for line in protocol_in:
        _send(protocol_out, _invoke(handler, json.loads(line)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
