"""
The HTTP side of the local Lambda service: a threading server with keep-alive connections (as boto3 pools them)
that hands each request to one ``respond`` callable, and the shape of the Lambda API's answers and errors.
"""

import http.server
import json
import logging
import socket
import threading
import uuid
from email.message import Message
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

logger = logging.getLogger(__name__)


class Response(NamedTuple):
    """An answer: status, headers and body."""

    status: int
    headers: List[Tuple[str, str]]
    body: bytes


#: Makes the answer of a request: ``(method, path, headers, body)``; header lookups ignore case.
Respond = Callable[[str, str, Message, bytes], Response]


def new_request_id() -> str:
    """A request id, as Lambda makes them (a uuid4)."""
    return str(uuid.uuid4())


def json_response(status: int, body: Any, request_id: Optional[str] = None) -> Response:
    """A JSON answer of the Lambda API."""
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id or new_request_id())]
    return Response(status, headers, json.dumps(body).encode("utf-8"))


class ApiError(Exception):
    """An error answer of the Lambda API: ``x-amzn-ErrorType`` header and JSON body, which boto3 turns into
    ``client.exceptions.<error_type>``."""

    def __init__(self, status: int, error_type: str, body: Dict[str, Any]):
        super().__init__(f"{error_type}: {body}")
        self.response = Response(
            status,
            [("x-amzn-ErrorType", error_type), ("Content-Type", "application/json"),
             ("x-amzn-RequestId", new_request_id())],
            json.dumps(body).encode("utf-8"),
        )


def not_found(message: str) -> ApiError:
    """The ``ResourceNotFoundException`` of the Lambda API."""
    return ApiError(404, "ResourceNotFoundException", {"Type": "User", "Message": message})


def invalid_parameter(message: str) -> ApiError:
    """The ``InvalidParameterValueException`` of the Lambda API."""
    return ApiError(400, "InvalidParameterValueException", {"Type": "User", "message": message})


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3 pools connections
    server: "_Server"

    def setup(self) -> None:
        super().setup()
        self.server.owner.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner.track(self.connection, open_=False)

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        response = self.server.owner.respond(self.command, self.path, self.headers, body)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog: socketserver's default of 5 drops the connections an Orchestrator's invoke pool opens at
    # once beyond it, and each dropped one waits for the kernel's SYN retry, a full second.
    request_queue_size = 128

    def __init__(self, address: Tuple[str, int], owner: "HttpServer"):
        self.owner = owner
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping keep-alive connections, and stop() shutting them down, are routine here.
        logger.debug("Connection from %s failed", client_address, exc_info=True)


class HttpServer:
    """Serves ``respond(method, path, headers, body)`` on ``host:port`` in a thread, until :meth:`stop`.

    :param host: Interface to listen on.
    :param port: Port to listen on; 0 picks a free one.
    :param respond: Makes the answer of a request.
    """

    def __init__(self, host: str, port: int, respond: Respond):
        self.respond = respond
        self._connections: Set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = _Server((host, port), self)
        self.thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="lambda-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in a thread of its own."""
        self.thread.start()

    def track(self, connection: socket.socket, open_: bool) -> None:
        """Keep the open connections, so that :meth:`stop` ends the keep-alive ones."""
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def stop(self) -> None:
        """Stop listening and shut down every open connection; the serving thread ends soon after."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
