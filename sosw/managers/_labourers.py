"""
The Labourer registry: the configured Labourers, and their marks for one run (``start``, ``invoked``, ``expired``,
``max_attempts``, ``max_duration``, ``health``).

.. code-block:: python

    registry = LabourerRegistry(TaskSettings.from_config(config))
    [labourer] = registry.register(start=now, ecology=None, health=False)
    labourer.get_attr('expired')
"""

from typing import Any, List

from sosw.components.helpers import trim_arn_to_name
from sosw.exceptions import LabourerNotFound
from sosw.labourer import Labourer
from sosw.managers._greenfield import run_marks
from sosw.managers._settings import TaskSettings


class LabourerRegistry:
    """The Labourers of ``labourers`` in the TaskManager's settings.

    :param settings: The TaskManager's settings.
    """

    def __init__(self, settings: TaskSettings) -> None:
        self.settings = settings

    def labourers(self) -> List[Labourer]:
        """A new :class:`~sosw.labourer.Labourer` for each configured one, not registered for any run."""
        return [Labourer(id=entry.id, **entry.attributes()) for entry in self.settings.labourers]

    def register(self, *, start: int, ecology: Any, health: bool) -> List[Labourer]:
        """Labourers stamped for the run that starts at ``start``.

        :param start: The run's start, in seconds.
        :param ecology: The EcologyManager that tells a function's timeout (``max_duration``, and the default
            ``duration``) and a Labourer's health; None: the configured ``duration`` and High health.
        :param health: Ask for health (CloudWatch).
        """
        settings = self.settings
        result = []
        for labourer in self.labourers():
            max_duration = labourer.duration
            if ecology is not None and settings.read_labourer_timeout:
                max_duration = ecology.get_max_labourer_duration(labourer)
                # Only a real number: users' tests give a MagicMock as ecology_client.
                if not labourer.duration_configured and isinstance(max_duration, int) and max_duration > 0:
                    labourer.duration = max_duration
            invoked, expired = run_marks(start, settings.greenfield_invocation_delta, labourer.duration,
                                         labourer.cooldown)
            labourer.set_custom_attribute("max_duration", max_duration)
            labourer.set_custom_attribute("start", start)
            labourer.set_custom_attribute("invoked", invoked)
            labourer.set_custom_attribute("expired", expired)
            labourer.set_custom_attribute("max_attempts", int(settings.max_attempts_of(
                labourer.id, getattr(labourer, "max_attempts", None))))
            if labourer.max_simultaneous_invocations is None and settings.max_simultaneous_invocations is not None:
                # The original's task_config default for every Labourer; else the Orchestrator's applies.
                labourer.set_custom_attribute("max_simultaneous_invocations", settings.max_simultaneous_invocations)
            if health:
                labourer.set_custom_attribute("health", ecology.get_labourer_status(labourer) if ecology else 4)
            result.append(labourer)
        return result

    def find(self, labourer_id: Any, labourers: List[Labourer]) -> Labourer:
        """The Labourer named ``labourer_id`` (a name, a number, or a Lambda ARN) among ``labourers``.

        :raises LabourerNotFound: It is not configured.
        """
        name = trim_arn_to_name(labourer_id) if isinstance(labourer_id, str) else labourer_id
        for labourer in labourers:
            if str(labourer.id) == str(name):  # configs in the wild use numbers as ids
                return labourer
        raise LabourerNotFound(f"{labourer_id!r} is not a configured Labourer "
                               f"(known: {sorted(str(entry.id) for entry in self.settings.labourers)})",
                               field="labourer_id", value=labourer_id)
