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
import json
import logging
from typing import Any, Dict, Mapping, Optional

from sosw import constants
from sosw._settings import CUSTOM_CONFIG_NAME, config_row_name, parse_mapping, parse_text
from sosw.app import Processor

logger = logging.getLogger(__name__)

__all__ = ["Worker", "WorkerSettings"]


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    """The config keys that the Worker base class reads, checked; a subclass's own keys are its business. Built by
    :meth:`from_config` when the Worker is built, so a bad value fails there, naming the config row and key.

    :param worker_assistant_lambda: ``sosw_worker_assistant_lambda``: the WorkerAssistant's function name or ARN.
    :param meta_handler_config: ``meta_handler_config``, the config of the task event log writer; ``None`` when
        the config has none (the Worker then writes no events).
    :param config_name: The config row, named in errors.

    .. code-block:: python

        WorkerSettings.from_config({'sosw_worker_assistant_lambda': 'my_assistant'}, 'my_worker_config')
        WorkerSettings.from_config({'sosw_worker_assistant_lambda': ''}, 'my_worker_config')
        # ConfigError: my_worker_config.sosw_worker_assistant_lambda: expected a non-empty string, got ''
    """

    worker_assistant_lambda: str = constants.WORKER_ASSISTANT_LAMBDA
    meta_handler_config: Optional[Mapping[str, Any]] = None
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
            config_name=config_name,
        )


class Worker(Processor):
    """Processor for Lambdas orchestrated by sosw. When its ``__call__`` (called via ``super()`` at the end of
    yours) sees a ``task_id`` in the event, it asks the WorkerAssistant Lambda (config
    ``sosw_worker_assistant_lambda``, default ``sosw_worker_assistant``) to mark the task completed, sending
    ``self.get_stats()`` and ``self.result``, then starts ``self.result`` afresh.

    As in the original, a failure to reach the WorkerAssistant is logged (and counted in
    ``stats['worker_assistant_failures']``), not raised: the task then expires and the Scavenger retries it. With
    ``meta_handler_config`` in the config, the Worker also writes ``completed`` / ``failed`` events to the task event
    log (its role needs ``dynamodb:PutItem`` on ``sosw_tasks_meta``).

    The keys it reads are parsed once, at construction, into :attr:`worker_settings`: a bad value raises
    :class:`~sosw.exceptions.ConfigError` there.
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

    def __init__(self, custom_config: Optional[Dict] = None, **kwargs: Any):
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

    def __call__(self, event: Dict, reset_result: bool = True) -> Any:
        """Report the task of ``event`` (if it has a ``task_id``) as completed, then count the call and start
        ``self.result`` afresh (see :meth:`sosw.app.Processor.__call__`).

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
