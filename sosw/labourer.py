"""
A Labourer is a Worker Lambda as the Essentials see it: its limits from config, and the timestamps of the current
run that place each of its tasks in a state of the greenfield state machine.

.. code-block:: python

    from sosw.labourer import Labourer

    labourer = Labourer(id='my_worker', max_simultaneous_invocations=5, duration=120, cooldown=30)
    labourer.set_custom_attribute('start', 1_700_000_000)
    labourer.get_attr('start')  # 1700000000
    labourer.start  # the same: custom attributes are plain attributes
"""

from typing import Any, Dict, Optional

from sosw import constants
from sosw.exceptions import InvalidArgument

__all__ = ["Labourer"]


class Labourer:
    """A Worker function managed by sosw. Every keyword argument becomes an attribute.

    :param strict: Refuse (``AttributeError``) keyword arguments that are not in :attr:`ATTRIBUTES`.
    :param id: Name of the Lambda function (how it appears in the ``labourers`` config). Any value is accepted;
        it is used as text wherever it becomes a key.
    :param arn: ARN to invoke; the name is used when omitted.
    :param max_simultaneous_invocations: How many of its tasks may run at once.
    :param health_metrics: CloudWatch metrics its health depends on (see ``EcologyManager``).
    :param duration: Seconds a task may run; by default the function's own timeout when it can be read, else 900.
    :param cooldown: Seconds after ``duration`` before a task that has not completed counts as expired.
    :param max_attempts: Invocations before a task is closed as dead (overrides the TaskManager's default).

    .. code-block:: python

        labourer = Labourer(id='my_worker', arn='arn:aws:lambda:us-west-2:000000000000:function:my_worker')
        labourer.duration, labourer.cooldown  # (900, 300): DEFAULTS
        Labourer(strict=True, id='my_worker', colour='red')  # AttributeError: colour
    """

    #: Settings a Labourer takes from its entry in the ``labourers`` config (all that ``strict`` accepts).
    ATTRIBUTES = ("id", "arn", "max_simultaneous_invocations", "health_metrics", "duration", "cooldown",
                  "max_attempts", "max_ram")
    #: Attributes set for each run by ``TaskManager.register_labourers``; readable as plain attributes or with
    #: :meth:`get_attr`.
    CUSTOM_ATTRIBUTES = ("arn", "start", "invoked", "expired", "health", "health_metrics", "average_duration",
                         "max_duration", "max_attempts", "max_simultaneous_invocations", "average_incremental")
    #: Defaults of settings the config may leave out (see :meth:`set_defaults`).
    DEFAULTS: Dict[str, Any] = {
        "duration": constants.DEFAULT_DURATION,
        "cooldown": constants.DEFAULT_COOLDOWN,
    }

    id: Any = None
    arn: Optional[str] = None
    #: Seconds a task may run (set from :attr:`DEFAULTS` when not given).
    duration: int
    #: Seconds after ``duration`` before a task that has not completed counts as expired.
    cooldown: int

    def __init__(self, strict: bool = False, **kwargs: Any):
        if strict:
            unknown = sorted(set(kwargs) - set(self.ATTRIBUTES))
            if unknown:
                raise InvalidArgument(f"not a supported attribute of a Labourer; use one of {self.ATTRIBUTES}",
                                      field=unknown[0])
        self.max_simultaneous_invocations: Optional[int] = None
        self.health_metrics: Dict[str, Any] = {}
        for name, value in kwargs.items():
            setattr(self, name, value)
        self.health_metrics = self.health_metrics or {}
        #: Whether the config gave a ``duration``: if not, the TaskManager may take the function's timeout.
        self.duration_configured = kwargs.get("duration") is not None
        self.set_defaults()
        self.duration = int(self.duration)
        self.cooldown = int(self.cooldown)

    def set_defaults(self) -> None:
        """Give the settings of :attr:`DEFAULTS` that are not set (or are ``None``) their default value."""
        for name, value in self.DEFAULTS.items():
            if getattr(self, name, None) is None:
                setattr(self, name, value)

    @property
    def function_name(self) -> str:
        """What to pass as ``FunctionName`` to Lambda: the ARN if configured, else the name."""
        return self.arn or str(self.id)

    def set_custom_attribute(self, name: str, value: Any) -> None:
        """Set one of :attr:`CUSTOM_ATTRIBUTES` (normally ``TaskManager.register_labourers`` does).

        :param name: The attribute.
        :param value: Its value for this run.
        :raises ValueError: ``name`` is not a custom attribute.
        """
        if name not in self.CUSTOM_ATTRIBUTES:
            raise ValueError(f"name: {name!r} is not a custom attribute; use one of {self.CUSTOM_ATTRIBUTES}")
        setattr(self, name, value)

    def get_attr(self, name: str) -> Any:
        """Get one of :attr:`CUSTOM_ATTRIBUTES`.

        :param name: The attribute.
        :raises ValueError: ``name`` is not a custom attribute.
        :raises AttributeError: It has not been set (the Labourer was not registered).
        """
        if name not in self.CUSTOM_ATTRIBUTES:
            raise ValueError(f"name: {name!r} is not a custom attribute; use one of {self.CUSTOM_ATTRIBUTES}")
        try:
            return getattr(self, name)
        except AttributeError:
            raise AttributeError(f"Labourer {self.id}: {name!r} is not set; register the Labourer first "
                                 f"(TaskManager.register_labourers())") from None

    def __repr__(self) -> str:
        return f"Labourer(id={self.id!r}, max_simultaneous_invocations={self.max_simultaneous_invocations!r})"
