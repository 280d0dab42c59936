"""
Where a Processor's ``init_clients`` names become objects: the one place that maps a name to what gets built.

``'DynamoDb'`` (or ``'dynamo_db'``) is a ``DynamoDbClient``, ``'Task'`` a ``TaskManager``, ``'Ecology'``,
``'MetaHandler'``, ``'Sns'``, ``'Siblings'`` likewise, each built from ``config['<snake_name>_config']``. A module of
that name in the user's own ``components`` or ``managers`` package wins over ours (as in the original); a name that
is no component is a boto3 client of that AWS service (``'lambda'``, ``'S3'``).

.. code-block:: python

    from sosw.composition import build_client

    task_manager = build_client('Task', {'task_config': {'labourers': {}}}, test=False)
"""

import functools
import importlib
import inspect
from typing import Any, Dict, Mapping, Optional, Tuple, Type

from sosw.components._boto import make_client
from sosw.components.helpers import camel_case_to_underscore

__all__ = ["SOSW_COMPONENTS", "build_client", "find_component"]

#: sosw's own components by snake_case name: (module, class). Imported when first asked for.
SOSW_COMPONENTS: Dict[str, Tuple[str, str]] = {
    "dynamo_db": ("sosw.components.dynamo_db", "DynamoDbClient"),
    "sns": ("sosw.components.sns", "SnsManager"),
    "siblings": ("sosw.components.siblings", "SiblingsManager"),
    "task": ("sosw.managers.task", "TaskManager"),
    "ecology": ("sosw.managers.ecology", "EcologyManager"),
    "meta_handler": ("sosw.managers.meta_handler", "MetaHandler"),
}

# The user's packages searched first, as the original did.
_USER_PACKAGES = ("components", "managers")


def _import_optional(module_name: str) -> Optional[Any]:
    """Import a module if it exists; errors raised *inside* an existing module propagate."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and (module_name == err.name or module_name.startswith(f"{err.name}.")):
            return None
        raise


@functools.cache
def _available_services() -> frozenset:
    import boto3  # only when a plain AWS client is asked for

    return frozenset(boto3.session.Session().get_available_services())


def _service_name(snake: str) -> str:
    """boto3's name of a service: ``cognito_idp`` is ``cognito-idp``, ``secrets_manager`` is ``secretsmanager``."""
    for candidate in (snake, snake.replace("_", "-"), snake.replace("_", "")):
        if candidate in _available_services():
            return candidate
    return snake.replace("_", "-")


def find_component(snake: str) -> Optional[Type[Any]]:
    """The class for ``init_clients`` name ``snake``: the user's ``components.<snake>`` / ``managers.<snake>``
    module (class ``<Camel>Client``, ``<Camel>Manager`` or ``<Camel>``) first, then sosw's; ``None`` if neither.

    :param snake: The snake_case name, e.g. ``'dynamo_db'``.
    """
    camel = "".join(part.capitalize() for part in snake.split("_"))
    for package in _USER_PACKAGES:
        module = _import_optional(f"{package}.{snake}")
        if module is None:
            continue
        for class_name in (f"{camel}Client", f"{camel}Manager", camel):
            cls = getattr(module, class_name, None)
            if inspect.isclass(cls):
                return cls
    if snake in SOSW_COMPONENTS:
        module_name, class_name = SOSW_COMPONENTS[snake]
        cls = getattr(importlib.import_module(module_name), class_name)
        return cls if inspect.isclass(cls) else None
    return None


def _instantiate(component: Type[Any], config: Optional[Mapping[str, Any]], test: bool,
                 processor_kwargs: Mapping[str, Any]) -> Any:
    """Call the constructor the way it takes a config: ``custom_config=`` (managers, Processors) or ``config=``
    (clients), plus ``test`` where it is accepted; user Processors also get ``processor_kwargs``."""
    from sosw.app import Processor  # the Processor module imports this one

    params = inspect.signature(component.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs: Dict[str, Any] = {}
    if "custom_config" in params or issubclass(component, Processor):
        kwargs["custom_config"] = config
    elif "config" in params or takes_any:
        kwargs["config"] = config
    if "test" in params or takes_any:
        kwargs["test"] = test
    if issubclass(component, Processor):
        kwargs.update(processor_kwargs)
    return component(**kwargs)


def build_client(name: str, config: Mapping[str, Any], *, test: bool = False,
                 processor_kwargs: Optional[Mapping[str, Any]] = None) -> Any:
    """Build what ``init_clients`` name ``name`` stands for, with its config ``config['<snake_name>_config']``.

    :param name: A component name (``'DynamoDb'``, ``'Task'``, ...) or an AWS service (``'lambda'``).
    :param config: The config of whoever asks: the component's own config is looked up in it.
    :param test: Test mode for the component.
    :param processor_kwargs: Extra constructor arguments for a user's component that is a Processor.
    """
    snake = camel_case_to_underscore(name)
    component = find_component(snake)
    if component is None:
        return make_client(_service_name(snake))
    return _instantiate(component, config.get(f"{snake}_config"), test, processor_kwargs or {})
