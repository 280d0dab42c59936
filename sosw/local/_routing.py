"""
The Lambda API gateway of the local service: Invoke runs here, the EventInvokeConfig of a function registered only
here is kept here, and every other request is relayed to moto as it came (a call that changes a deployed function
makes the service read it from moto again).
"""

import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import Any, Callable, Dict, Optional, Tuple

from sosw.local._http import ApiError, Response, invalid_parameter, json_response, new_request_id, not_found
from sosw.local._registry import EventInvokeConfig, Function, FunctionRegistry, function_arn
from sosw.local.constants import INVOCATION_TYPES

logger = logging.getLogger(__name__)

#: Runs a RequestResponse invocation: ``(function, request_id, payload, invoked_arn) -> Response``.
InvokeSync = Callable[[Function, str, Any, str], Response]
#: Accepts an Event invocation: ``(function, request_id, payload, invoked_arn)``.
InvokeEvent = Callable[[Function, str, Any, str], None]

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_EVENT_CONFIG_PATH = re.compile(r"^/2019-09-25/functions/(?P<name>[^/]+)/event-invoke-config(?P<list>/list)?/?$")
# Calls that change a function (UpdateFunctionConfiguration, UpdateFunctionCode, DeleteFunction, concurrency): the
# warm processes of a function deployed in moto then retire, as Lambda's containers do, and the next invocation
# starts from its new configuration (a config change reaches the function through its environment, see
# sosw.deploy.configs.recycle_functions).
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


def parse_function_name(reference: str) -> Tuple[str, Optional[str]]:
    """Name and qualifier of ``NAME[:Q]``, ``ACCOUNT:function:NAME[:Q]`` or
    ``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]``."""
    parts = reference.split(":")
    if reference.startswith("arn:"):
        parts = parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        parts = parts[2:]
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else {}
    except ValueError as exc:
        raise ApiError(
            400,
            "InvalidRequestContentException",
            {"Type": "User", "message": f"Could not parse request body into json: {exc}"},
        ) from exc


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Relay redirects to the client as they are instead of following them."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class MotoRelay:
    """Forwards requests to a moto server and its answers back, hop-by-hop headers left out.

    :param endpoint: ``http://HOST:PORT`` of the server.
    """

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)

    def forward(self, method: str, path: str, headers: Message, body: bytes) -> Response:
        """Send the request on and return the server's answer, errors included.

        :raises ApiError: ``ServiceException`` when the server cannot be reached.
        """
        forwarded = {name: value for name, value in headers.items() if name.lower() not in _NOT_RELAYED}
        request = urllib.request.Request(self.endpoint + path, data=body or None, headers=forwarded, method=method)
        try:
            with self._opener.open(request, timeout=60) as answer:
                status, answer_headers, answer_body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as err:
            status, answer_headers, answer_body = err.code, err.headers, err.read()
        except OSError as exc:
            raise ApiError(
                502, "ServiceException", {"Type": "Service", "Message": f"{self.endpoint} unreachable: {exc}"}
            ) from exc
        relayed = [(name, value) for name, value in answer_headers.items() if name.lower() not in _NOT_RELAYED]
        return Response(status, relayed, answer_body)


class LambdaApi:
    """Answers one request of the Lambda API.

    :param registry: The functions.
    :param invoke_sync: Runs a RequestResponse invocation.
    :param invoke_event: Accepts an Event invocation.
    :param relay: Where other requests go; None: they get 404.
    """

    def __init__(self, registry: FunctionRegistry, invoke_sync: InvokeSync, invoke_event: InvokeEvent,
                 relay: Optional[MotoRelay]):
        self._registry = registry
        self._invoke_sync = invoke_sync
        self._invoke_event = invoke_event
        self._relay = relay

    def respond(self, method: str, path: str, headers: Message, body: bytes) -> Response:
        """The answer to a request; never raises."""
        route = urllib.parse.urlsplit(path).path
        try:
            invoke = _INVOKE_PATH.match(route)
            if method == "POST" and invoke:
                return self._invoke(urllib.parse.unquote(invoke["name"]), path, headers, body)
            event_config = _EVENT_CONFIG_PATH.match(route)
            if event_config:
                name = parse_function_name(urllib.parse.unquote(event_config["name"]))[0]
                function = self._registry.get(name)
                if function is not None and not function.deployed:
                    return self._local_event_config(method, name, bool(event_config["list"]), body)
                return self._relayed_event_config(method, name, path, headers, body)
            return self._relayed(method, path, headers, body)
        except ApiError as err:
            return err.response
        except Exception:
            logger.exception("Failed to serve %s %s", method, path)
            return ApiError(500, "ServiceException", {"Type": "Service", "Message": "Internal error"}).response

    def _forward(self, method: str, path: str, headers: Message, body: bytes) -> Response:
        if self._relay is None:
            raise not_found(f"No local Lambda API for {method} {path}: this service only implements Invoke")
        return self._relay.forward(method, path, headers, body)

    def _relayed(self, method: str, path: str, headers: Message, body: bytes) -> Response:
        response = self._forward(method, path, headers, body)
        changed = _FUNCTION_PATH.match(urllib.parse.urlsplit(path).path)
        if changed and method in ("PUT", "POST", "DELETE") and response.status < 300:
            self._registry.mark_stale(parse_function_name(urllib.parse.unquote(changed["name"]))[0])
        return response

    def _invoke(self, reference: str, path: str, headers: Message, body: bytes) -> Response:
        name, qualifier = parse_function_name(reference)
        qualifier = qualifier or urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("Qualifier", [None])[0]
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            raise ApiError(
                400,
                "InvalidParameterValueException",
                {"Type": "User", "message": f"Unsupported InvocationType {invocation_type!r}"},
            )
        function = self._registry.lookup(name)
        if invocation_type == "DryRun":
            return Response(204, [("x-amzn-RequestId", new_request_id())], b"")
        payload = _json_body(body)
        request_id = new_request_id()
        invoked_arn = f"{function.spec.arn}:{qualifier}" if qualifier else function.spec.arn
        if invocation_type == "Event":
            self._invoke_event(function, request_id, payload, invoked_arn)
            return Response(202, [("x-amzn-RequestId", request_id)], b"")
        return self._invoke_sync(function, request_id, payload, invoked_arn)

    # -- EventInvokeConfig ------------------------------------------------------------------------------------------

    def _local_event_config(self, method: str, name: str, listing: bool, body: bytes) -> Response:
        """Put, Update, Get, Delete and List FunctionEventInvokeConfig of a function that exists only here."""
        answer = self._registry.event_config_answer(name)
        if method == "GET" and listing:
            return json_response(200, {"FunctionEventInvokeConfigs": [answer] if answer else []})
        if method in ("PUT", "POST") and not listing:
            request = _json_body(body)
            if not isinstance(request, dict):
                raise invalid_parameter("The request body must be a JSON object")
            # Put replaces the whole configuration; Update keeps what the request leaves out.
            base = answer if method == "POST" and answer else {}
            self._registry.put_event_config(name, EventInvokeConfig.from_api({**base, **request}))
            return json_response(200, self._registry.event_config_answer(name))
        if method in ("GET", "DELETE") and not listing:
            if answer is None:
                arn = function_arn(self._registry.region, name)
                raise not_found(f"The function {arn} doesn't have an EventInvokeConfig")
            if method == "GET":
                return json_response(200, answer)
            self._registry.delete_event_config(name)
            return Response(204, [("x-amzn-RequestId", new_request_id())], b"")
        raise invalid_parameter(f"No {method} on the EventInvokeConfig of {name}")

    def _relayed_event_config(self, method: str, name: str, path: str, headers: Message, body: bytes) -> Response:
        """The EventInvokeConfig API of a function deployed in moto: moto keeps it, and what it answers to a change
        applies from the next Event invocation on (its warm containers stay, as on Lambda)."""
        response = self._forward(method, path, headers, body)
        if response.status >= 300 or self._registry.get(name) is None:
            return response  # an unregistered function reads it from moto at its registration
        if method == "DELETE":
            self._registry.delete_event_config(name)
        elif method in ("PUT", "POST"):
            self._registry.put_event_config(name, EventInvokeConfig.from_api(_answer_fields(response)))
        return response


def _answer_fields(response: Response) -> Dict[str, Any]:
    body = json.loads(response.body)
    return {key: body[key] for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if key in body}
