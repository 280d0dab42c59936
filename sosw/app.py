"""
The Processor framework: config assembly, component registration, statistics and the Lambda entry point.

.. code-block:: python

    from sosw.app import Processor, LambdaGlobals, get_lambda_handler

    class MyProcessor(Processor):
        DEFAULT_CONFIG = {'init_clients': ['DynamoDb', 's3'], 'dynamo_db_config': {'table_name': 'my_table'}}

        def __call__(self, event):
            self.stats['events'] += 1
            return self.dynamo_db_client.get_by_query({'id': event['id']})

    global_vars = LambdaGlobals()
    lambda_handler = get_lambda_handler(MyProcessor, global_vars)
"""

import logging
import os
from collections import defaultdict
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Mapping, NoReturn, Optional, Type

from sosw import constants
from sosw.components._boto import make_client
from sosw.components.base import Component, merge_config
from sosw.components.config import get_config  # users patch ``sosw.app.get_config`` in their tests
from sosw.components.dynamo_db import DynamoDbClient  # users patch ``sosw.app.DynamoDbClient`` (get_ddbc)
from sosw.components.helpers import *  # noqa: F403 - the original's sosw.app re-exported every helper
from sosw.components.helpers import camel_case_to_underscore
from sosw.components.metrics import log_stats
from sosw.composition import build_client
from sosw.exceptions import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["Processor", "LambdaGlobals", "get_lambda_handler", "global_vars"]


class Processor(Component):
    """Core class of sosw Lambdas: Worker and the Essentials inherit from it.

    Config is assembled by recursive update, each step over the previous: ``DEFAULT_CONFIG`` ← the config row
    ``<AWS_LAMBDA_FUNCTION_NAME>_config`` ← ``custom_config``. Then every name in ``config['init_clients']`` is
    registered (see :meth:`register_clients`).

    :param custom_config: Config that wins over everything else.
    :param test: Test mode (also when ``STAGE`` is ``test`` or ``autotest``).
    :param parent: Set by :meth:`register_clients` for components it creates: they take their config from the parent
        instead of reading a config row of their own.
    """

    #: AWS account id: set from the Lambda context ARN, else read from STS once (see ``_account``). Assignable.
    aws_account: Optional[str] = None
    #: AWS region; ``None`` means: from ``AWS_REGION``, the context ARN or the boto3 session (see ``_region``).
    aws_region: Optional[str] = None
    #: Prefixes that :meth:`get_ddbc` supports: every ``<prefix>_dynamo_db_config`` key of the config.
    ddb_names: Optional[List[str]] = None
    #: The Lambda context of the current invocation, when there is one.
    lambda_context: Any = None

    def __init__(self, custom_config: Optional[Dict] = None, **kwargs: Any):
        #: What the current call produced; ``__call__`` starts it afresh unless told not to.
        self.result: Dict[str, Any] = defaultdict(int)
        self.lambda_context = kwargs.get("lambda_context")
        self._parent = kwargs.get("parent")
        arn = self._context_arn
        if arn and arn.count(":") >= 4:
            self.aws_account = arn.split(":")[4]
        super().__init__(custom_config, test=kwargs.get("test"))
        self.register_clients(self.config.get("init_clients", []))

    # Config ----------------------------------------------------------------------------------------------------

    def _config_layers(self) -> List[str]:
        """Names of the config rows merged between DEFAULT_CONFIG and custom_config, in order."""
        function_name = os.environ.get(constants.ENV_FUNCTION_NAME)
        return [f"{function_name}_config"] if function_name else []

    def init_config(self, custom_config: Optional[Mapping[str, Any]] = None) -> None:
        """Assemble ``self.config``: ``DEFAULT_CONFIG`` ← the config rows of ``_config_layers()`` (for a
        Processor, ``<AWS_LAMBDA_FUNCTION_NAME>_config``) ← ``custom_config``, each a recursive update of the
        previous. Override it for another way of building the config.

        :param custom_config: Config that wins over everything else.
        """
        layers = [self._normalize_config(self.DEFAULT_CONFIG or {})]
        if self._parent is None:
            for name in self._config_layers():
                row = self.get_config(name)
                if not isinstance(row, dict):
                    raise ConfigError(f"expected a JSON object, got {type(row).__name__}", config_name=name)
                layers.append(self._normalize_config(row))
        layers.append(self._normalize_config(dict(custom_config or {})))
        self.config = merge_config(*layers)

    def get_config(self, name: str) -> Any:
        """Config ``name`` from the config source. Delegates to the module-level ``sosw.app.get_config``.

        :param name: Name of the config row.
        :rtype: dict
        """
        return get_config(name, test=self.test)

    # Components ------------------------------------------------------------------------------------------------

    def register_clients(self, clients: List[str], **kwargs: Any) -> None:
        """Create the components named in ``clients`` and set them as ``self.<snake_name>_client``.

        ``'DynamoDb'`` (or ``'dynamo_db'``) becomes ``self.dynamo_db_client``: a ``DynamoDbClient`` from the module
        ``dynamo_db`` of the user's own ``components`` or ``managers`` package if there is one, else of
        ``sosw.components`` / ``sosw.managers``. The class is the CamelCase name plus ``Client`` or ``Manager`` (or
        the bare name, e.g. ``MetaHandler``). Its config is ``config['<snake_name>_config']``. A name that is no
        component is a boto3 client of that service: ``'lambda'`` -> ``self.lambda_client``.

        :param clients: Component or AWS service names.
        :param kwargs: Accepted for the original's signature, which took any arguments; unused.
        """
        processor_kwargs = {"parent": self, "lambda_context": self.lambda_context}
        for service in clients:
            client = build_client(service, self.config, test=self.test, processor_kwargs=processor_kwargs)
            snake = camel_case_to_underscore(service)
            setattr(self, f"{snake}_client", client)
            self._on_client_registered(snake, client)

    def _on_client_registered(self, name: str, client: Any) -> None:
        """Hook for subclasses that wire components together."""

    def get_ddbc(self, prefix: str, **kwargs: Any) -> Any:
        """The ``DynamoDbClient`` configured by ``config['<prefix>_dynamo_db_config']``, created at the first call
        and kept as ``self.<prefix>_dynamo_db_client``.

        Useful when a Processor talks to several tables:

        .. code-block:: python

            class MyProcessor(Processor):
                DEFAULT_CONFIG = {'results_dynamo_db_config': {'table_name': 'results', 'row_mapper': {'id': 'S'}}}

                def __call__(self, event):
                    self.get_ddbc('results').put({'id': event['id']})

        :param prefix: Config key prefix: ``'results'`` reads ``config['results_dynamo_db_config']``.
        :param kwargs: Accepted for the original's signature, which took any arguments; unused.
        :raises ValueError: No ``<prefix>_dynamo_db_config`` in the config; the message names the supported prefixes.
        """
        suffix = "_dynamo_db_config"
        if not self.ddb_names or prefix not in self.ddb_names:
            self.ddb_names = [key[: -len(suffix)] for key in self.config if key.endswith(suffix)]
        if prefix not in self.ddb_names:
            raise ValueError(f"get_ddbc() supports only the prefixes {self.ddb_names}: "
                             f"config has no {prefix}{suffix!r}")
        name = f"{prefix}_dynamo_db_client"
        if getattr(self, name, None) is None:
            setattr(self, name, DynamoDbClient(config=self.config[f"{prefix}{suffix}"]))
        return getattr(self, name)

    # Environment -----------------------------------------------------------------------------------------------

    @property
    def _context_arn(self) -> Optional[str]:
        context = self.lambda_context or global_vars.lambda_context
        return getattr(context, "invoked_function_arn", None)

    @property
    def _account(self) -> str:
        """AWS account id: :attr:`aws_account` if set (the Lambda context ARN sets it), else from STS (one call,
        then kept in :attr:`aws_account`)."""
        if not self.aws_account:
            arn = self._context_arn
            if arn and arn.count(":") >= 4:
                self.aws_account = arn.split(":")[4]
            else:
                self.aws_account = make_client("sts").get_caller_identity()["Account"]
        return self.aws_account

    @property
    def _region(self) -> str:
        """AWS region: :attr:`aws_region` if set, else the environment, the Lambda context ARN or the boto3 session."""
        if not self.aws_region:
            arn = self._context_arn
            self.aws_region = (
                os.environ.get(constants.ENV_REGION)
                or os.environ.get(constants.ENV_DEFAULT_REGION)
                or (arn.split(":")[3] if arn and arn.count(":") >= 4 else None)
                or make_client("sts").meta.region_name
            )
        return self.aws_region

    @property
    def _partition(self) -> str:
        """The AWS partition of :attr:`aws_region`: ``aws``, ``aws-cn``, ``aws-us-gov``..."""
        import boto3

        try:
            return boto3.session.Session().get_partition_for_region(self._region)
        except Exception:  # a region botocore does not know yet: the commercial partition is the likeliest
            return "aws"

    def _arn(self, service: str, resource: str) -> str:
        """An ARN in this function's partition, region and account, e.g. ``self._arn('sns', 'SoswWorkerErrors')``.

        :param service: The service part, e.g. ``'sns'``.
        :param resource: The resource part, e.g. a topic name.
        """
        return f"arn:{self._partition}:{service}:{self._region}:{self._account}:{resource}"

    # Failure ---------------------------------------------------------------------------------------------------

    def die(self, message: str = "Unknown Failure") -> NoReturn:
        """Log the stats and ``message``, publish both to SNS topic ``config['dead_sns_topic']`` (default
        ``SoswWorkerErrors``) with the subject ``"<AWS_LAMBDA_FUNCTION_NAME> died"``, then exit with
        ``SystemExit(1)``, as the original did: an ``except Exception`` in the caller does not swallow it, and
        Lambda records the invocation as failed.

        :param message: Description of the failure.
        :raises SystemExit: Always, with code 1.
        """
        logger.error("die: %s; stats: %s", message, dict(self.get_stats()))
        topic = self.config.get("dead_sns_topic", constants.DEAD_SNS_TOPIC)
        try:
            arn = topic if topic.startswith("arn:") else self._arn("sns", topic)
            function = os.environ.get(constants.ENV_FUNCTION_NAME) or "Some Function"
            make_client("sns").publish(TopicArn=arn, Subject=f"{function} died"[:100],
                                       Message=f"{message}\n\nstats: {dict(self.get_stats())}")
        except Exception:
            logger.exception("die: could not publish to SNS topic %s", topic)
        raise SystemExit(1)

    def __call__(self, event: Any, reset_result: bool = True) -> Any:
        """Process one Lambda event. Subclasses implement their logic and may call ``super().__call__(event)``,
        which counts the call in ``stats['processor_calls']`` and starts :attr:`result` afresh.

        :param event: The Lambda event.
        :param reset_result: Start ``self.result`` afresh (an empty ``defaultdict(int)``).
        """
        self.stats["processor_calls"] += 1
        if reset_result:
            self.result = defaultdict(int)
        return None

    def __pre_call__(self, recursive: bool = True) -> None:
        """Start :attr:`result` afresh and reset the stats (see :meth:`reset_stats`): for a Processor that lives
        outside the scope of a Lambda handler, call it before calling the Processor.

        :param recursive: Reset the stats of ``self.*_client`` components as well.
        """
        self.result = defaultdict(int)
        self.reset_stats(recursive)


# What lives as long as the container, shared by every LambdaGlobals instance (as in the original).
_container: Dict[str, Any] = {"lambda_context": None, "processor": None}


class LambdaGlobals:
    """What lives as long as the Lambda container: the Processor (created once) and the current context.

    Every instance shares one state, kept at module level, as in the original: ``global_vars.lambda_context`` read
    anywhere (``sosw.app.global_vars``, ``sosw.scheduler.global_vars``, your module's) is the current invocation's.
    Creating an instance resets the context (not the Processor).

    .. code-block:: python

        global_vars = LambdaGlobals()
        lambda_handler = get_lambda_handler(MyProcessor, global_vars)
    """

    def __init__(self) -> None:
        _container["lambda_context"] = None

    @property
    def lambda_context(self) -> Any:
        """The context of the current invocation."""
        return _container["lambda_context"]

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        _container["lambda_context"] = value

    @property
    def processor(self) -> Optional[Processor]:
        """The Processor of this container, created at the first invocation."""
        return _container["processor"]

    @processor.setter
    def processor(self, value: Optional[Processor]) -> None:
        _container["processor"] = value


#: Module-level globals for code that reads ``sosw.app.global_vars.lambda_context``.
global_vars = LambdaGlobals()


def get_lambda_handler(processor_class: Type[Processor], global_vars: Optional[Any] = None,
                       custom_config: Optional[Dict] = None) -> Callable[[Any, Any], Any]:
    """Return the entry point of a Lambda function built on ``processor_class``.

    The Processor is created once per container and kept in ``global_vars.processor``; every call stores the
    context in ``global_vars.lambda_context``, sets the log level to ``event['logging_level']`` if the event has
    one, calls the Processor, sends what it queued (SNS), logs and resets its stats, and returns its result.

    :param processor_class: Callable Processor class.
    :param global_vars: The container's globals: a :class:`LambdaGlobals` (or any object with ``processor`` and
        ``lambda_context`` attributes). If omitted, the handler keeps its Processor to itself (the original shared
        it through a new ``LambdaGlobals``), so that several handlers can live in one process, e.g. in tests.
    :param custom_config: Config passed to the Processor constructor.
    """
    holder = global_vars if global_vars is not None else SimpleNamespace(lambda_context=None, processor=None)

    def lambda_handler(event: Any, context: Any) -> Any:
        if isinstance(event, dict) and event.get("logging_level"):
            # The original's logger was the root logger: the level applies to the function's own logging too.
            logging.getLogger().setLevel(event["logging_level"])
        holder.lambda_context = context
        _container["lambda_context"] = context
        # LambdaGlobals instances share one Processor: one made by another handler of this process is not ours.
        if holder.processor is None or (isinstance(processor_class, type)
                                        and not isinstance(holder.processor, processor_class)):
            holder.processor = processor_class(custom_config=custom_config, lambda_context=context)
        processor = holder.processor
        processor.lambda_context = context
        for client in processor._clients():
            if hasattr(type(client), "lambda_context"):  # Processors and components that record the context
                client.lambda_context = context
        try:
            return processor(event)
        finally:
            processor.flush()
            log_stats(logger, processor.get_stats(), getattr(context, "function_name", None)
                      or os.environ.get(constants.ENV_FUNCTION_NAME))
            processor.reset_stats()

    return lambda_handler
