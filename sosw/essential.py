"""
Base of the four Essentials (Orchestrator, Scavenger, Scheduler, WorkerAssistant).

Their config is, each step a recursive update of the previous: ``DEFAULT_CONFIG`` ← the shared row
``sosw_essential_config`` ← their own row ``<function>_config`` ← ``custom_config``. (The original applied
``DEFAULT_CONFIG`` over the shared row, so shared settings could never change a default.)

Every Essential writes the task event log (table ``sosw_tasks_meta``) by default, as the original did:
``meta_handler_config`` (at the top of the config, as in the original, or inside ``task_config``) tunes it, and
``{'meta_handler_config': {'write_meta_to_ddb': False}}`` turns it off.
"""

from typing import Any, Dict, List, Mapping, Optional

from sosw import constants
from sosw.app import Processor
from sosw.components.helpers import recursive_update, to_bool


class Essential(Processor):
    """A Processor that also reads ``sosw_essential_config`` and shares its TaskManager's EcologyManager and
    MetaHandler as ``self.ecology_client`` and ``self.meta_handler`` (also ``self.meta_handler_client``).

    .. code-block:: python

        class MyEssential(Essential):
            DEFAULT_CONFIG = {'init_clients': ['Task']}

            def __call__(self, event):
                for labourer in self.task_client.register_labourers():
                    ...
    """

    task_client: Any = None
    ecology_client: Any = None
    #: The task event log writer (a ``MetaHandler``), ``None`` when the log is off.
    meta_handler: Any = None
    meta_handler_client: Any = None

    def _config_layers(self) -> List[str]:
        return [constants.ESSENTIAL_CONFIG_NAME] + super()._config_layers()

    def init_config(self, custom_config: Optional[Mapping[str, Any]] = None) -> None:
        """Assemble ``self.config`` (see :meth:`sosw.app.Processor.init_config`), then point the TaskManager's
        ``meta_handler_config`` at the event log unless ``write_meta_to_ddb`` is false.

        :param custom_config: Config that wins over everything else.
        """
        super().init_config(custom_config=custom_config)
        task_config = self.config.get("task_config")
        if not isinstance(task_config, dict):
            return
        meta: Dict[str, Any] = recursive_update(dict(self.config.get("meta_handler_config") or {}),
                                                task_config.get("meta_handler_config") or {})
        if not to_bool(meta.get("write_meta_to_ddb", True)):
            task_config.pop("meta_handler_config", None)
            return
        meta.setdefault("write_meta_to_ddb", True)  # never an empty dict: that reads as "no event log"
        task_config["meta_handler_config"] = meta

    def _on_client_registered(self, name: str, client: Any) -> None:
        if name == "task":
            self.ecology_client = self.ecology_client or getattr(client, "ecology_client", None)
            self.meta_handler_client = self.meta_handler_client or getattr(client, "meta_handler_client", None)
            self.meta_handler = self.meta_handler or self.meta_handler_client

    def get_db_field_name(self, key: str) -> str:
        """The attribute name used in the tasks table for ``key`` (``dynamo_db_config.field_names`` of the
        TaskManager may rename fields, e.g. in tests).

        :param key: Field name, e.g. ``'task_id'``.
        """
        if self.task_client is not None and hasattr(self.task_client, "get_db_field_name"):
            return self.task_client.get_db_field_name(key)
        return ((self.config.get("dynamo_db_config") or {}).get("field_names") or {}).get(key, key)
