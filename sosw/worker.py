"""
Base class of the Worker Lambdas that sosw orchestrates.

.. code-block:: python

    from sosw import Worker
    from sosw.app import LambdaGlobals, get_lambda_handler

    class Processor(Worker):
        DEFAULT_CONFIG = {'init_clients': ['DynamoDb'], 'dynamo_db_config': {'table_name': 'results'}}

        def __call__(self, event):
            self.dynamo_db_client.put({'id': event['id'], 'status': 'done'})
            self.result['rows'] = 1
            return super().__call__(event)   # tells the WorkerAssistant the task is completed

    global_vars = LambdaGlobals()
    lambda_handler = get_lambda_handler(Processor, global_vars)
"""

import dataclasses
import functools
import json
import logging
import threading
import time
import weakref
from typing import Any, Callable, Dict, FrozenSet, Mapping, Optional

from sosw import constants
from sosw._settings import CUSTOM_CONFIG_NAME, config_row_name, parse_bool, parse_mapping, parse_text
from sosw.app import Processor
from sosw.managers._claims import Attempt, ClaimStore

logger = logging.getLogger(__name__)

__all__ = ["TRANSIENT_ERRORS", "Worker", "WorkerSettings"]


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    """The config keys that the Worker base class reads, checked; a subclass's own keys are its business. Built by
    :meth:`from_config` when the Worker is built, so a bad value fails there, naming the config row and key.

    :param worker_assistant_lambda: ``sosw_worker_assistant_lambda``: the WorkerAssistant's function name or ARN.
    :param meta_handler_config: ``meta_handler_config``, the config of the task event log writer; ``None`` when
        the config has none (the Worker then writes no events).
    :param start_guard: ``worker_start_guard``: claim the task for the invocation's attempt before the body runs
        (see :class:`Worker`). On by default.
    :param tasks_table: ``sosw_tasks_table``: the tasks table where the start guard claims tasks, when the
        invocation's payload names none (the Orchestrator's names it).
    :param config_name: The config row, named in errors.

    .. code-block:: python

        WorkerSettings.from_config({'sosw_worker_assistant_lambda': 'my_assistant'}, 'my_worker_config')
        WorkerSettings.from_config({'sosw_worker_assistant_lambda': ''}, 'my_worker_config')
        # ConfigError: my_worker_config.sosw_worker_assistant_lambda: expected a non-empty string, got ''
    """

    worker_assistant_lambda: str = constants.WORKER_ASSISTANT_LAMBDA
    meta_handler_config: Optional[Mapping[str, Any]] = None
    start_guard: bool = True
    tasks_table: str = constants.TASKS_TABLE
    config_name: str = CUSTOM_CONFIG_NAME

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str) -> "WorkerSettings":
        """Parse the config keys of the Worker base class.

        :param config: The assembled config; a missing key has the default of this class.
        :param config_name: The config row, named in errors as ``<config_name>.<key>``.
        :raises ConfigError: A malformed value.
        """
        meta = config.get("meta_handler_config")
        return cls(
            worker_assistant_lambda=parse_text(
                config.get("sosw_worker_assistant_lambda", cls.worker_assistant_lambda),
                f"{config_name}.sosw_worker_assistant_lambda"),
            # Present, even empty or null, turns the event log on, as in 0.7.47.
            meta_handler_config=(parse_mapping(meta, f"{config_name}.meta_handler_config")
                                 if "meta_handler_config" in config else None),
            start_guard=parse_bool(config.get("worker_start_guard", cls.start_guard),
                                   f"{config_name}.worker_start_guard"),
            tasks_table=parse_text(config.get("sosw_tasks_table", cls.tasks_table), f"{config_name}.sosw_tasks_table"),
            config_name=config_name,
        )


#: The ``__call__`` functions already behind the start guard.
_GUARDED: "weakref.WeakSet[Callable[..., Any]]" = weakref.WeakSet()
#: Per thread, ``workers``: ids of the Workers in a guarded call, so that the calls it reaches through ``super()``
#: pass. Per thread, not per Worker: a Worker object may serve concurrent calls (the local Lambda service's
#: in-process handlers do).
_CALLS = threading.local()


def _start_guarded(call: Callable[..., Any]) -> Callable[..., Any]:
    """``call`` (a Worker's ``__call__``) behind the start guard: the outermost ``__call__`` of an invocation asks
    :meth:`Worker._may_start` first and returns None without calling ``call`` when it says no; the ``__call__`` of
    a parent class that it reaches through ``super()`` runs unguarded."""
    if call in _GUARDED:
        return call

    @functools.wraps(call)
    def guarded(self: "Worker", event: Any, *args: Any, **kwargs: Any) -> Any:
        if not hasattr(_CALLS, "workers"):
            _CALLS.workers = set()
        if id(self) in _CALLS.workers:
            return call(self, event, *args, **kwargs)
        if not self._may_start(event):
            return None
        _CALLS.workers.add(id(self))
        try:
            return call(self, event, *args, **kwargs)
        finally:
            _CALLS.workers.discard(id(self))

    _GUARDED.add(guarded)
    return guarded


#: Error codes of DynamoDB (and botocore error classes) that say "try again later": a claim that meets one is
#: retried, never skipped. Any other error (``AccessDeniedException``, a missing table) runs the body unguarded.
TRANSIENT_ERRORS = frozenset({
    "ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionConflictException", "LimitExceededException",
    "EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError", "ReadTimeoutError",
})


def _is_transient(err: Exception, code: str) -> bool:
    """Whether a failed claim may succeed if tried again: throttled, a 5xx, or the connection failed."""
    status = getattr(err, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code in TRANSIENT_ERRORS or int(status) >= 500


class Worker(Processor):
    """Processor for Lambdas orchestrated by sosw. When its ``__call__`` (called via ``super()`` at the end of
    yours) sees a ``task_id`` in the event, it asks the WorkerAssistant Lambda (config
    ``sosw_worker_assistant_lambda``, default ``sosw_worker_assistant``) to mark the task completed, sending
    ``self.get_stats()`` and ``self.result``, then starts ``self.result`` afresh.

    **Start guard.** Lambda delivers an asynchronous invocation at least once, and retries a failed one: the same
    attempt of a task can arrive twice, or after the task was invoked again. The Orchestrator puts the attempt in the
    payload (``event['sosw_attempt']``, which also names the tasks table), and before your ``__call__`` runs, the
    Worker claims the task for that attempt with one conditional UpdateItem on the tasks table (config
    ``sosw_tasks_table``, default ``sosw_tasks``, for a payload that names none): the task must still be on that
    attempt, not completed, not archived nor waiting for a retry, and that attempt not claimed by another run; and
    the run must start before the payload's ``start_by`` (the invocation's second plus the Labourer's ``cooldown``
    plus one): a later run could outlast the task's ``duration + cooldown``, and the task be retried, or its slot
    given to another task, while it runs (counted in ``stats['start_guard_late']`` too). Otherwise your
    ``__call__`` does not run, nothing is reported, the call returns None, and the refusal is counted in
    ``stats['start_guard_refusals']`` and logged. An event without
    ``sosw_attempt`` (a direct invocation, sosw 0.7.47's Orchestrator) runs as before. If the claim cannot be
    written (e.g. ``AccessDeniedException``: the role lacks ``dynamodb:UpdateItem`` on the tasks table) the body
    runs unguarded, as without the guard; that is counted in ``stats['start_guard_errors']`` and logged at ERROR
    once per container and error. A claim that fails for a reason that passes (throttled beyond botocore's retries,
    a 5xx, a broken connection: :data:`TRANSIENT_ERRORS`) does not run the body: the error is raised, so Lambda
    retries the delivery (which claims again) or, with ``MaximumRetryAttempts: 0``, the task expires and sosw
    retries it; counted in ``stats['start_guard_transient_errors']`` too. ``worker_start_guard: false`` in the
    config turns the guard off.

    The guard wraps the ``__call__`` of every subclass when the class is created (``__init_subclass__``), because
    your code runs in your ``__call__`` *before* it calls ``super().__call__(event)``: the base class's
    ``__call__`` comes too late to guard it.

    As in the original, a failure to reach the WorkerAssistant is logged (and counted in
    ``stats['worker_assistant_failures']``), not raised: the task then expires and the Scavenger retries it. With
    ``meta_handler_config`` in the config, the Worker also writes ``completed`` / ``failed`` events to the task event
    log (its role needs ``dynamodb:PutItem`` on ``sosw_tasks_meta``).

    The keys it reads are parsed once, at construction, into :attr:`worker_settings`: a bad value raises
    :class:`~sosw.exceptions.ConfigError` there.

    :param custom_config: Config that wins over everything else.
    :param claim_store: Writes the start guard's claims (``ClaimStore.claim(attempt, now) -> bool``); one on a
        ``DynamoDbClient`` is built at the first claim if None.
    """

    DEFAULT_CONFIG: Dict[str, Any] = {
        "init_clients": ["lambda"],
        "sosw_worker_assistant_lambda": constants.WORKER_ASSISTANT_LAMBDA,
    }

    lambda_client: Any = None
    #: Writes ``completed`` / ``failed`` events when ``meta_handler_config`` is configured; else ``None``.
    meta_handler: Any = None
    #: The config keys of the Worker base class, parsed: see :class:`WorkerSettings`. (Not ``settings``: that name
    #: is left to subclasses, which may well have settings of their own.)
    worker_settings: WorkerSettings
    #: Writes the start guard's claims (a ``ClaimStore`` of ``sosw/managers/_claims.py``); one on a
    #: ``DynamoDbClient``, built at the first claim, if None.
    claim_store: Any = None
    _errors_logged: FrozenSet[str] = frozenset()  # error codes of failed claims, logged once each

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if callable(call):
            cls.__call__ = _start_guarded(call)  # type: ignore[method-assign]  # replacing it is the point

    def __init__(self, custom_config: Optional[Dict] = None, *, claim_store: Any = None, **kwargs: Any):
        self.claim_store = claim_store
        super().__init__(custom_config=custom_config, **kwargs)
        if self.worker_settings.meta_handler_config is not None:
            from sosw.managers.meta_handler import MetaHandler

            self.meta_handler = MetaHandler(custom_config=dict(self.worker_settings.meta_handler_config))

    def init_config(self, custom_config: Optional[Mapping[str, Any]] = None) -> None:
        """Assemble ``self.config`` (see :meth:`sosw.app.Processor.init_config`), then parse the keys the Worker
        reads into :attr:`worker_settings`.

        :param custom_config: Config that wins over everything else.
        :raises ConfigError: A malformed value, named ``<config row>.<key>``.
        """
        super().init_config(custom_config=custom_config)
        self.worker_settings = WorkerSettings.from_config(self.config, config_row_name())

    def _may_start(self, event: Any) -> bool:
        """The start guard: whether the body may run for ``event``. Claims the task for the event's attempt."""
        settings = getattr(self, "worker_settings", None)
        attempt = Attempt.from_event(event)
        if attempt is None or (settings is not None and not settings.start_guard):
            return True
        if self.claim_store is None:
            from sosw.components.dynamo_db import DynamoDbClient

            table = settings.tasks_table if settings is not None else constants.TASKS_TABLE
            client = DynamoDbClient(config={"table_name": table}, test=self.test)
            self.claim_store = ClaimStore(lambda: client, table)
        try:
            claimed = self.claim_store.claim(attempt, int(time.time()))
        except Exception as err:  # the guard protects the run; it must not stop it (e.g. a role not yet updated)
            self.stats["start_guard_errors"] += 1
            code = getattr(err, "response", {}).get("Error", {}).get("Code") or type(err).__name__
            if _is_transient(err, code):
                # Running unguarded now could run a stale attempt, or work that another run just completed: the
                # invocation fails instead, and Lambda's retry (or, without one, the task's own retry) claims again.
                self.stats["start_guard_transient_errors"] += 1
                logger.warning("start guard: could not claim task %s for attempt %d (%s); not run, the invocation "
                               "fails so that it is retried", attempt.task_id, attempt.number, code)
                raise
            if code not in self._errors_logged:
                self._errors_logged = self._errors_logged | {code}
                logger.error("start guard: could not claim task %s for attempt %d (%s: %s); running it unguarded. "
                             "The Worker's role needs dynamodb:UpdateItem on %s; or set worker_start_guard: false",
                             attempt.task_id, attempt.number, code, err, attempt.table or self.claim_store.table)
            return True
        if claimed and attempt.is_late(time.time()):
            # Started after the cooldown, the run could outlast the task's expiry: the task would be retried, or its
            # slot given to another task, while it runs. The attempt stays claimed; the task expires and is retried.
            self.stats["start_guard_refusals"] += 1
            self.stats["start_guard_late"] += 1
            logger.warning("start guard: task %s, attempt %d not run: it started after its start_by (%d), so the "
                           "task could expire while it runs; it will be retried", attempt.task_id, attempt.number,
                           attempt.start_by)
            return False
        if not claimed:
            self.stats["start_guard_refusals"] += 1
            logger.warning("start guard: task %s, attempt %d not run: the task moved on (invoked again, completed, "
                           "closed or waiting for a retry) or this attempt already ran (a repeated delivery)",
                           attempt.task_id, attempt.number)
        return claimed

    @_start_guarded
    def __call__(self, event: Dict, reset_result: bool = True) -> Any:
        """Report the task of ``event`` (if it has a ``task_id``) as completed, then count the call and start
        ``self.result`` afresh (see :meth:`sosw.app.Processor.__call__`). Behind the start guard (see
        :class:`Worker`) when it is the Worker's own ``__call__``.

        :param event: The invocation's event, as the Orchestrator sent it.
        :param reset_result: Start ``self.result`` afresh after reporting.
        """
        task_id = event.get("task_id") if isinstance(event, dict) else None
        if task_id:
            self.mark_task_as_completed(task_id)
        return super().__call__(event, reset_result=reset_result)

    def mark_task_as_completed(self, task_id: str) -> None:
        """Ask the WorkerAssistant to mark the task completed, with the stats and result of this invocation.

        :param task_id: The task of this invocation (``event['task_id']``).
        """
        self._tell_assistant("mark_task_as_completed", task_id, "completed")

    def mark_task_as_failed(self, task_id: str, reason: Optional[str] = None) -> None:
        """Ask the WorkerAssistant to record a failed attempt: the Scavenger then retries the task (or closes it as
        dead) at its next run, without waiting for the task to expire.

        :param task_id: The task of this invocation (``event['task_id']``).
        :param reason: Stored on the task as ``result_error``.
        """
        if reason:
            self.result["error"] = reason
        self._tell_assistant("mark_task_as_failed", task_id, "failed")

    def _tell_assistant(self, action: str, task_id: str, event_name: str) -> None:
        if self.lambda_client is None:
            self.register_clients(["lambda"])
        self.stats["worker_assistant_calls"] += 1
        stats = {k: v for k, v in self.get_stats().items() if not k.startswith("total_")}
        payload = {"action": action, "task_id": task_id, "stats": stats, "result": dict(self.result)}
        try:
            self.lambda_client.invoke(
                FunctionName=self.worker_settings.worker_assistant_lambda,
                InvocationType="Event",
                Payload=json.dumps(payload, default=str).encode(),
            )
        except Exception:
            self.stats["worker_assistant_failures"] += 1
            logger.exception("%s for task %s: the WorkerAssistant could not be invoked", action, task_id)
            return
        if self.meta_handler is not None:
            self.meta_handler.post(task_id=task_id, action=event_name)
