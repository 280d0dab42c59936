"""
Kicks: an asynchronous invocation of the Orchestrator, so that queued tasks start within seconds instead of at the
Orchestrator's next scheduled run (once a minute).

The Scheduler kicks after it has created tasks (naming their Labourer; not debounced); the WorkerAssistant kicks
after a completion has freed a slot, debounced in its process: at most one kick every ``kick_debounce_seconds``. A
kicked Orchestrator dispatches the Labourer in a session that holds the Labourer's dispatch lease
(``sosw._kick_session``), so kicks that pass in several processes at once give one session per Labourer, within its
limit; the others end after one conditional UpdateItem.

A kick never fails the work of the Essential that kicks: an error is logged and counted (``kick_failures``).

Config keys, read by :meth:`KickSettings.from_config`: ``kick_orchestrator`` (default ``True``; ``False`` restores
the original timing, the minute schedule alone), ``sosw_orchestrator_lambda`` (default ``'sosw_orchestrator'``) and
``kick_debounce_seconds`` (default 30).

.. code-block:: python

    kicker = Kicker(KickSettings.from_config(config, 'sosw_worker_assistant_config'), lambda: lambda_client,
                    lambda: stats)
    kicker.kick('my_worker')  # True: the Orchestrator was invoked
    kicker.kick('my_worker')  # False: debounced, a kick for my_worker passed less than 30 seconds ago
"""

import dataclasses
import json
import logging
import threading
import time
from typing import Any, Callable, Dict, Mapping, MutableMapping, Optional

from sosw.exceptions import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["KICK_SOURCE", "KickSettings", "Kicker", "is_kick", "kick_labourer", "kicker_for"]

#: The ``source`` of a kick's event; the Orchestrator reads ``labourer_id`` of such an event.
KICK_SOURCE = "sosw.kick"


@dataclasses.dataclass(frozen=True)
class KickSettings:
    """The config keys of kicks, checked.

    :param enabled: ``kick_orchestrator``: kick at all.
    :param function_name: ``sosw_orchestrator_lambda``: the Orchestrator's function (a name or an ARN).
    :param debounce_seconds: ``kick_debounce_seconds``: the least time between two kicks of a Labourer from one
        process.
    """

    enabled: bool = True
    function_name: str = "sosw_orchestrator"
    debounce_seconds: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any], config_name: str) -> "KickSettings":
        """Parse the keys of kicks from an Essential's config.

        :param config: The assembled config; a missing key has the default of this class.
        :param config_name: The config row, named in errors as ``<config_name>.<key>``.
        :raises ConfigError: A malformed value.
        """
        enabled = config.get("kick_orchestrator", cls.enabled)
        if not isinstance(enabled, bool):
            raise ConfigError(f"expected true or false, got {enabled!r}",
                              config_name=f"{config_name}.kick_orchestrator")
        name = config.get("sosw_orchestrator_lambda", cls.function_name)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"expected a function name or ARN, got {name!r}",
                              config_name=f"{config_name}.sosw_orchestrator_lambda")
        seconds = config.get("kick_debounce_seconds", cls.debounce_seconds)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ConfigError(f"expected a number of seconds of at least 0, got {seconds!r}",
                              config_name=f"{config_name}.kick_debounce_seconds")
        return cls(enabled=enabled, function_name=name, debounce_seconds=float(seconds))


class Kicker:
    """Invokes the Orchestrator asynchronously, debounced per Labourer.

    :param settings: The parsed config keys.
    :param lambda_client: Gives the boto3 Lambda client, asked at each kick that passes the debounce.
    :param stats: Gives where ``kicks``, ``kicks_debounced`` and ``kick_failures`` are counted (the Essential's
        stats, asked at each kick: an Essential may start them afresh).
    :param clock: Monotonic seconds, for the debounce.
    """

    def __init__(self, settings: KickSettings, lambda_client: Callable[[], Any],
                 stats: Callable[[], MutableMapping[str, Any]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._client = lambda_client
        self._stats = stats
        self._clock = clock
        self._last: Dict[Optional[str], float] = {}
        self._lock = threading.Lock()

    def kick(self, labourer_id: Optional[str] = None, debounce: bool = True) -> bool:
        """Kick the Orchestrator for the Labourer (``None``: for every Labourer), unless kicks are off or, with
        ``debounce``, one passed less than ``debounce_seconds`` ago. Never raises.

        :param labourer_id: The Labourer that has tasks to start, or None when the kicker does not know it.
        :param debounce: Apply the debounce: the WorkerAssistant's kicks, one per completion, do; the Scheduler's,
            one per invocation that created tasks, do not (each job then starts at once).
        :return: Whether the Orchestrator was invoked.
        """
        if not self.settings.enabled:
            return False
        now = self._clock()
        with self._lock:
            last = self._last.get(labourer_id)
            if debounce and last is not None and now - last < self.settings.debounce_seconds:
                self._stats()["kicks_debounced"] += 1
                return False
            self._last[labourer_id] = now
        event: Dict[str, Any] = {"source": KICK_SOURCE}
        if labourer_id is not None:
            event["labourer_id"] = str(labourer_id)
        try:
            self._client().invoke(FunctionName=self.settings.function_name, InvocationType="Event",
                                  Payload=json.dumps(event).encode())
        except Exception as err:  # a kick only hurries the Orchestrator: the minute schedule is the safety net
            self._stats()["kick_failures"] += 1
            logger.warning("kicking %s for %s failed (%s: %s); its next scheduled run will dispatch instead",
                           self.settings.function_name, labourer_id or "every Labourer", type(err).__name__, err)
            return False
        self._stats()["kicks"] += 1
        return True


def is_kick(event: Any) -> bool:
    """Whether the Orchestrator's event is a kick.

    :param event: The Orchestrator's event.
    """
    return isinstance(event, Mapping) and event.get("source") == KICK_SOURCE


def kick_labourer(event: Any) -> Optional[str]:
    """The Labourer that a kick's event names, or None when the event is no kick or names none.

    :param event: The Orchestrator's event.
    """
    if isinstance(event, Mapping) and event.get("source") == KICK_SOURCE:
        labourer_id = event.get("labourer_id")
        return str(labourer_id) if labourer_id else None
    return None


def kicker_for(essential: Any, config_name: str) -> Kicker:
    """A :class:`Kicker` for an Essential: its config's keys, its ``lambda_client`` (registered at the first kick
    that passes the debounce) and its stats.

    :param essential: The Scheduler or the WorkerAssistant, its config assembled.
    :param config_name: Its config row, named in errors.
    :raises ConfigError: A malformed key.
    """

    def client() -> Any:
        if getattr(essential, "lambda_client", None) is None:
            essential.register_clients(["lambda"])
        return essential.lambda_client

    return Kicker(KickSettings.from_config(essential.config, config_name), client, lambda: essential.stats)
