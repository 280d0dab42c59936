"""
sosw: Serverless Orchestrator of Serverless Workers.

Public classes are imported lazily, so ``import sosw`` is cheap and makes no AWS call.

.. code-block:: python

    from sosw import Worker, Orchestrator, Scheduler, Scavenger, WorkerAssistant, Processor, Essential
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sosw._version import __version__

__all__ = ["Processor", "Worker", "Essential", "Orchestrator", "Scheduler", "Scavenger", "WorkerAssistant",
           "__version__"]

if TYPE_CHECKING:  # real classes to a type checker; imported lazily at run time
    from sosw.app import Processor
    from sosw.essential import Essential
    from sosw.orchestrator import Orchestrator
    from sosw.scavenger import Scavenger
    from sosw.scheduler import Scheduler
    from sosw.worker import Worker
    from sosw.worker_assistant import WorkerAssistant

_MODULES = {
    "Processor": "sosw.app",
    "Worker": "sosw.worker",
    "Essential": "sosw.essential",
    "Orchestrator": "sosw.orchestrator",
    "Scheduler": "sosw.scheduler",
    "Scavenger": "sosw.scavenger",
    "WorkerAssistant": "sosw.worker_assistant",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = getattr(import_module(_MODULES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sosw' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(__all__)
