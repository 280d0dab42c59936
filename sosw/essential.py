"""
Base of the four Essentials (Orchestrator, Scavenger, Scheduler, WorkerAssistant).

Their config is, each step a recursive update of the previous: ``DEFAULT_CONFIG`` ← the shared row
``sosw_essential_config`` ← their own row ``<function>_config`` ← ``custom_config``. (The original applied
``DEFAULT_CONFIG`` over the shared row, so shared settings could never change a default.)
"""

from typing import Any, List

from sosw import constants
from sosw.app import Processor


class Essential(Processor):
    """A Processor that also reads ``sosw_essential_config`` and shares its TaskManager's EcologyManager and
    MetaHandler as ``self.ecology_client`` and ``self.meta_handler_client``."""

    task_client: Any = None
    ecology_client: Any = None
    meta_handler_client: Any = None

    def _config_layers(self) -> List[str]:
        return [constants.ESSENTIAL_CONFIG_NAME] + super()._config_layers()

    def _on_client_registered(self, name: str, client: Any) -> None:
        if name == "task":
            self.ecology_client = self.ecology_client or getattr(client, "ecology_client", None)
            self.meta_handler_client = self.meta_handler_client or getattr(client, "meta_handler_client", None)
