"""
The function registry: the functions the local Lambda service can invoke, each with its pool of containers and its
EventInvokeConfig, and the registration of a function deployed into moto the first time it is invoked (and again once
it changed there).
"""

import datetime
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union, cast

import boto3

from sosw.local._http import invalid_parameter, not_found
from sosw.local._pool import FunctionSpec, WorkerPool
from sosw.local.constants import ACCOUNT_ID, ASYNC_ATTEMPTS, MAX_EVENT_AGE, MIN_EVENT_AGE

logger = logging.getLogger(__name__)

CodeResolver = Callable[[str, Dict[str, Any]], Optional[Union[str, os.PathLike]]]


def function_arn(region: str, name: str) -> str:
    """The unqualified ARN of a function."""
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


@dataclass(frozen=True)
class EventInvokeConfig:
    """How Lambda handles a function's Event invocations: the retries after a failed attempt, and the age past which
    an event still waiting (for a slot or for its retry) is dropped.

    :param maximum_retry_attempts: 0 to 2.
    :param maximum_event_age: Seconds, 60 to 21600.
    """

    maximum_retry_attempts: int = ASYNC_ATTEMPTS - 1
    maximum_event_age: int = MAX_EVENT_AGE

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> "EventInvokeConfig":
        """Read the body of PutFunctionEventInvokeConfig (or moto's answer to GetFunctionEventInvokeConfig); keys it
        lacks keep their defaults, as on Lambda.

        :raises ApiError: ``InvalidParameterValueException`` naming the value out of range.
        """
        retries = body.get("MaximumRetryAttempts", ASYNC_ATTEMPTS - 1)
        age = body.get("MaximumEventAgeInSeconds", MAX_EVENT_AGE)
        if not isinstance(retries, int) or not 0 <= retries <= ASYNC_ATTEMPTS - 1:
            raise invalid_parameter(f"MaximumRetryAttempts must be 0 to {ASYNC_ATTEMPTS - 1}, got {retries!r}")
        if not isinstance(age, int) or not MIN_EVENT_AGE <= age <= MAX_EVENT_AGE:
            raise invalid_parameter(f"MaximumEventAgeInSeconds must be {MIN_EVENT_AGE} to {MAX_EVENT_AGE}, got {age!r}")
        return cls(maximum_retry_attempts=retries, maximum_event_age=age)

    def to_api(self, arn: str, last_modified: float) -> Dict[str, Any]:
        """The answer of GetFunctionEventInvokeConfig."""
        return {
            "FunctionArn": f"{arn}:$LATEST",
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": self.maximum_event_age,
            "LastModified": datetime.datetime.fromtimestamp(last_modified, datetime.timezone.utc).isoformat(),
            "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}},
        }


class Function:
    """One registration of a function: what it runs, its containers, and where it came from.

    :param spec: The function.
    :param pool: Its containers.
    :param deployed: Registered from its configuration in moto, and read from there again once stale.
    """

    def __init__(self, spec: FunctionSpec, pool: WorkerPool, deployed: bool):
        self.spec = spec
        self.pool = pool
        self.deployed = deployed
        self.stale = False  # changed in moto since it was registered (guarded by the registry's lock)

    @property
    def name(self) -> str:
        """The function's name."""
        return self.spec.name


class FunctionRegistry:
    """The registered functions by name, behind a lock of their own.

    :param region: Region of the functions' ARNs and of moto lookups.
    :param proxy_endpoint: The moto server deployed functions are looked up in; None: no lookups.
    :param code_resolver: Local code directory of a deployed function (see ``LocalLambdaService``).
    :param make_pool: Builds the pool of containers of a new registration.
    """

    def __init__(self, region: str, proxy_endpoint: Optional[str], code_resolver: Optional[CodeResolver],
                 make_pool: Callable[[FunctionSpec], WorkerPool]):
        self.region = region
        self.proxy_endpoint = proxy_endpoint
        self.code_resolver = code_resolver
        self._make_pool = make_pool
        self._lock = threading.Lock()  # guards the three containers below and Function.stale
        self._functions: Dict[str, Function] = {}
        self._retired: List[WorkerPool] = []  # replaced pools whose busy workers still run
        # By function name: it outlives registrations, as Lambda keeps it across configuration changes.
        self._event_configs: Dict[str, Tuple[EventInvokeConfig, float]] = {}
        self._resolve_lock = threading.Lock()  # one lookup in moto at a time, so a function registers once
        self._closed = False

    def register(self, spec: FunctionSpec, deployed: bool = False) -> Function:
        """Make ``spec`` the function of its name; the previous registration's warm workers retire."""
        function = Function(spec, self._make_pool(spec), deployed)
        with self._lock:
            previous = self._functions.get(spec.name)
            self._functions[spec.name] = function
            self._retired = [pool for pool in self._retired if pool.containers]
            if previous:
                self._retired.append(previous.pool)
            closed = self._closed
        if previous:
            previous.pool.retire()
        if closed:  # registered by a request that arrived while the service stopped: it starts no worker
            function.pool.close()
        return function

    def get(self, name: str) -> Optional[Function]:
        """The current registration of ``name``, if any, stale or not."""
        with self._lock:
            return self._functions.get(name)

    def lookup(self, name: str) -> Function:
        """The function to invoke for ``name``: the registered one, else (or when stale) the one deployed in moto.

        :raises ApiError: ``ResourceNotFoundException``: no such function, or no local code for a deployed one.
        """
        function = self.get(name)
        if function and not function.stale:
            return function
        arn = function_arn(self.region, name)
        if not self.proxy_endpoint:
            raise not_found(f"Function not found: {arn}")
        with self._resolve_lock:
            function = self.get(name)
            if function and not function.stale:
                return function
            return self._register_deployed(name, arn, self.proxy_endpoint)

    def _register_deployed(self, name: str, arn: str, endpoint: str) -> Function:
        """Register a function deployed into moto, with its configuration there and the code ``code_resolver`` finds."""
        client = boto3.client("lambda", endpoint_url=endpoint, region_name=self.region)
        try:
            configuration = client.get_function(FunctionName=name)["Configuration"]
        except client.exceptions.ResourceNotFoundException:
            raise not_found(f"Function not found: {arn}") from None
        concurrency = client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        try:
            event_config: Optional[Mapping[str, Any]] = client.get_function_event_invoke_config(FunctionName=name)
        except client.exceptions.ResourceNotFoundException:
            event_config = None
        code_dir = self.code_resolver(name, cast(Dict[str, Any], configuration)) if self.code_resolver else None
        if code_dir is None:
            raise not_found(f"Function {arn} is deployed, but no local code is known for it (code_resolver gave none)")
        spec = FunctionSpec(
            name=name,
            arn=arn,
            handler=configuration["Handler"],
            timeout=float(configuration.get("Timeout", 3)),
            reserved_concurrency=concurrency,
            code_dir=os.fspath(code_dir),
            environment=dict(configuration.get("Environment", {}).get("Variables", {})),
            memory_size=configuration.get("MemorySize", 128),
        )
        if event_config is None:
            self.delete_event_config(name)
        else:
            self.put_event_config(name, EventInvokeConfig.from_api(event_config))
        function = self.register(spec, deployed=True)
        logger.info("Registered deployed function %s from %s with code in %s", name, endpoint, code_dir)
        return function

    def mark_stale(self, name: str) -> None:
        """A call changed ``name`` in moto: a deployed function is read from there again at its next invocation."""
        with self._lock:
            function = self._functions.get(name)
            if function is not None and function.deployed:
                function.stale = True
                logger.info("%s changed in %s: the next invocation reads it again", name, self.proxy_endpoint)

    # -- EventInvokeConfig ------------------------------------------------------------------------------------------

    def event_config(self, name: str) -> EventInvokeConfig:
        """The EventInvokeConfig of ``name``; Lambda's defaults when it has none."""
        with self._lock:
            found = self._event_configs.get(name)
        return found[0] if found else EventInvokeConfig()

    def event_config_answer(self, name: str) -> Optional[Dict[str, Any]]:
        """What GetFunctionEventInvokeConfig answers for ``name``, or None when it has none."""
        with self._lock:
            found = self._event_configs.get(name)
        return found[0].to_api(function_arn(self.region, name), found[1]) if found else None

    def put_event_config(self, name: str, config: EventInvokeConfig, modified_at: Optional[float] = None) -> None:
        """Set the EventInvokeConfig of ``name``."""
        with self._lock:
            self._event_configs[name] = (config, time.time() if modified_at is None else modified_at)

    def delete_event_config(self, name: str) -> bool:
        """Remove the EventInvokeConfig of ``name``; whether it had one."""
        with self._lock:
            return self._event_configs.pop(name, None) is not None

    def close(self) -> None:
        """Kill the workers of every registration, replaced ones included, and start no more."""
        with self._lock:
            self._closed = True
            pools = [function.pool for function in self._functions.values()] + self._retired
        for pool in pools:
            pool.close()
