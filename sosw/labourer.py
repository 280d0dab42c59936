"""
A Labourer is a Worker Lambda as the Essentials see it: its limits from config, and the timestamps of the current
run that place each of its tasks in a state of the greenfield state machine.

.. code-block:: python

    from sosw.labourer import Labourer

    labourer = Labourer(id='my_worker', max_simultaneous_invocations=5, duration=120, cooldown=30)
    labourer.set_custom_attribute('start', 1_700_000_000)
    labourer.get_attr('start')  # 1700000000
"""

from typing import Any, Dict, Optional

from sosw import constants


class Labourer:
    """A Worker function managed by sosw.

    :param id: Name of the Lambda function (how it appears in the ``labourers`` config).
    :param arn: ARN to invoke; the name is used when omitted.
    :param max_simultaneous_invocations: How many of its tasks may run at once.
    :param health_metrics: CloudWatch metrics its health depends on (see ``EcologyManager``).
    :param duration: Seconds a task may run; by default the function's own timeout when it can be read, else 900.
    :param cooldown: Seconds after ``duration`` before a task that has not completed counts as expired.
    :param max_attempts: Invocations before a task is closed as dead (overrides the TaskManager's default).

    Other keyword arguments become attributes as they are.
    """

    #: Settings a Labourer takes from its entry in the ``labourers`` config.
    ATTRIBUTES = ("id", "arn", "max_simultaneous_invocations", "health_metrics", "duration", "cooldown",
                  "max_attempts", "max_ram")
    #: Attributes computed for each run (by ``TaskManager.register_labourers``), read with :meth:`get_attr`.
    CUSTOM_ATTRIBUTES = ("start", "invoked", "expired", "health", "max_attempts", "average_incremental",
                         "max_duration")

    def __init__(self, id: Optional[str] = None, arn: Optional[str] = None,
                 max_simultaneous_invocations: Optional[int] = None, health_metrics: Optional[Dict] = None,
                 duration: Optional[int] = None, cooldown: Optional[int] = None, **kwargs: Any):
        if not id or not isinstance(id, str):
            raise ValueError(f"id: a Labourer needs a function name, got {id!r}")
        self.id = id
        self.arn = arn
        self.max_simultaneous_invocations = max_simultaneous_invocations
        self.health_metrics = health_metrics or {}
        self.duration_configured = duration is not None
        self.duration = int(duration) if duration is not None else constants.DEFAULT_DURATION
        self.cooldown = int(cooldown) if cooldown is not None else constants.DEFAULT_COOLDOWN
        for name, value in kwargs.items():
            setattr(self, name, value)

    @property
    def function_name(self) -> str:
        """What to pass as ``FunctionName`` to Lambda: the ARN if configured, else the name."""
        return self.arn or self.id

    def set_custom_attribute(self, name: str, value: Any) -> None:
        """Set one of :attr:`CUSTOM_ATTRIBUTES` (computed per run by ``TaskManager.register_labourers``)."""
        if name not in self.CUSTOM_ATTRIBUTES:
            raise ValueError(f"name: {name!r} is not a custom attribute; use one of {self.CUSTOM_ATTRIBUTES}")
        setattr(self, f"_{name}", value)

    def get_attr(self, name: str) -> Any:
        """Get a custom attribute set by :meth:`set_custom_attribute`.

        :raises ValueError: ``name`` is not a custom attribute.
        :raises AttributeError: It has not been set (the Labourer was not registered).
        """
        if name not in self.CUSTOM_ATTRIBUTES:
            raise ValueError(f"name: {name!r} is not a custom attribute; use one of {self.CUSTOM_ATTRIBUTES}")
        try:
            return getattr(self, f"_{name}")
        except AttributeError:
            raise AttributeError(f"Labourer {self.id}: {name!r} is not set; register the Labourer first") from None

    def __repr__(self) -> str:
        return f"Labourer(id={self.id!r}, max_simultaneous_invocations={self.max_simultaneous_invocations!r})"
