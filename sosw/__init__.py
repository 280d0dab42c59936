"""
sosw: Serverless Orchestrator of Serverless Workers.

Public classes are imported lazily, so ``import sosw`` is cheap and makes no AWS call.

.. code-block:: python

    from sosw import Worker, Orchestrator, Scheduler, Scavenger, WorkerAssistant, Processor, Essential
"""

from importlib import import_module
from typing import Any

from sosw._version import __version__

__all__ = ["Processor", "Worker", "Essential", "Orchestrator", "Scheduler", "Scavenger", "WorkerAssistant",
           "__version__"]

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
