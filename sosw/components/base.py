"""
The base of sosw's components and managers: config merged once, stats, and the child components they hold.

A component is not a Lambda app (that is :class:`sosw.app.Processor`): it gets its config and its collaborators
from whoever builds it, and reads no config row of its own.

.. code-block:: python

    from sosw.components.base import Component

    class Counter(Component):
        DEFAULT_CONFIG = {'step': 1}

        def __init__(self, custom_config=None, *, store_client=None, **kwargs):
            super().__init__(custom_config, **kwargs)
            self.store_client = store_client   # its stats are merged into ours

        def add(self):
            self.stats['added'] += self.config['step']

    counter = Counter({'step': 2})
    counter.add()
    counter.get_stats()  # {'added': 2}
"""

import copy
import inspect
import logging
import os
from collections import defaultdict
from typing import Any, Dict, Iterator, List, Mapping, Optional

from sosw import constants
from sosw.components.helpers import recursive_update

logger = logging.getLogger(__name__)

__all__ = ["Component", "merge_config", "is_test_mode"]


def is_test_mode(test: Optional[bool] = None) -> bool:
    """Test mode: asked for, or ``STAGE`` is ``test`` / ``autotest`` in the environment.

    :param test: An explicit request for test mode.
    """
    return bool(test) or os.environ.get(constants.ENV_STAGE) in constants.TEST_STAGES


def merge_config(*layers: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Each layer recursively updates the previous ones; the result shares nothing with the layers, so mutating it
    changes no ``DEFAULT_CONFIG``, no caller's dict and no later run.

    :param layers: Config dicts, weakest first; ``None`` is skipped.
    """
    config: Dict[str, Any] = {}
    for layer in layers:
        config = recursive_update(config, copy.deepcopy(dict(layer or {})))
    return config


class Component:
    """Config, stats and child components.

    ``config`` is ``DEFAULT_CONFIG`` recursively updated with ``custom_config``. Child components are the attributes
    whose names end with ``_client``: :meth:`get_stats` and :meth:`reset_stats` reach them, and :meth:`flush` commits
    what they hold back (e.g. queued SNS messages).

    :param custom_config: Config that wins over ``DEFAULT_CONFIG``.
    :param test: Test mode (also when ``STAGE`` is ``test`` or ``autotest``).
    """

    DEFAULT_CONFIG: Dict[str, Any] = {}

    #: Stats keys that :meth:`reset_stats` keeps as they are (the config key ``lifetime_stats_params`` adds more).
    lifetime_stats_params: List[str] = []

    config: Dict[str, Any]

    def __init__(self, custom_config: Optional[Mapping[str, Any]] = None, *, test: Optional[bool] = None,
                 **kwargs: Any) -> None:
        self.test = is_test_mode(test)
        self.stats: Dict[str, Any] = defaultdict(int)
        self.init_config(custom_config)

    def init_config(self, custom_config: Optional[Mapping[str, Any]] = None) -> None:
        """Set ``self.config``: ``DEFAULT_CONFIG`` recursively updated with ``custom_config``.

        :param custom_config: Config that wins over ``DEFAULT_CONFIG``.
        """
        self.config = merge_config(self._normalize_config(copy.deepcopy(self.DEFAULT_CONFIG or {})),
                                   self._normalize_config(copy.deepcopy(dict(custom_config or {}))))

    def _normalize_config(self, layer: Dict[str, Any]) -> Dict[str, Any]:
        """Hook applied to every config layer before it is merged: e.g. to make JSON's string keys ``"4"`` and
        Python's ``4`` the same key."""
        return layer

    def _clients(self) -> Iterator[Any]:
        """Every component reachable from here through ``*_client`` attributes, each once, self excluded."""
        seen = {id(self)}
        stack: List[Any] = [self]
        while stack:
            obj = stack.pop()
            children = [value for key, value in list(getattr(obj, "__dict__", {}).items())
                        if key.endswith("_client") and value is not None and not isinstance(value, (str, int, float))]
            for child in children:
                if id(child) in seen:
                    continue
                seen.add(id(child))
                yield child
                stack.append(child)

    def get_stats(self, recursive: bool = True) -> Dict[str, Any]:
        """Statistics of this instance, plus (if ``recursive``) those of every ``*_client`` component that keeps
        ``stats``. A component reachable along two paths is counted once; equal keys are summed.

        :param recursive: Merge the stats of ``self.*_client`` components.
        :rtype: dict
        """
        result: Dict[str, Any] = defaultdict(int)
        sources = [self] + (list(self._clients()) if recursive else [])
        for source in sources:
            stats = getattr(source, "stats", None)
            if not isinstance(stats, Mapping):
                continue
            for key, value in stats.items():
                if isinstance(value, (int, float)):
                    result[key] += value
                else:
                    result[key] = value
        return result

    def reset_stats(self, recursive: bool = True) -> None:
        """Move the current statistics into ``total_<key>`` counters and clear them. Keys that start with
        ``total_`` and those in ``lifetime_stats_params`` (the class attribute or the config key) are kept.

        :param recursive: Reset the stats of ``self.*_client`` components as well.
        """
        sources = [self] + (list(self._clients()) if recursive else [])
        for source in sources:
            stats = getattr(source, "stats", None)
            if not isinstance(stats, dict):
                continue
            keep = set(getattr(source, "lifetime_stats_params", None) or [])
            config = getattr(source, "config", None)
            if isinstance(config, dict):
                keep.update(config.get("lifetime_stats_params") or [])
            for key in list(stats):
                if key.startswith("total_") or key in keep:
                    continue
                value = stats.pop(key)
                if isinstance(value, (int, float)):
                    stats[f"total_{key}"] = stats.get(f"total_{key}", 0) + value

    def flush(self) -> None:
        """Send what components hold back (queued SNS messages, ...). Called after every Lambda invocation."""
        for client in self._clients():
            commit = getattr(client, "commit", None)
            if callable(commit) and not inspect.isclass(client):
                try:
                    commit()
                except Exception:  # a failed notification must not fail the business call that preceded it
                    logger.exception("commit of %s failed", type(client).__name__)
