"""
Timing and counting of methods, accumulated in the ``stats`` of their instance, like those of ``sosw.Processor``.

.. code-block:: python

    from collections import defaultdict

    from sosw.components.benchmark import benchmark


    class Worker:
        def __init__(self):
            self.stats = defaultdict(int)

        @benchmark
        def process(self, item):
            ...


    worker = Worker()
    worker.process(1)
    worker.process(2)
    worker.stats['time_process']  # seconds spent in both calls
    worker.stats['calls_process']  # 2
"""

import functools
import time
from typing import Any, Callable

__all__ = ["benchmark"]


def benchmark(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a method to add the seconds each call takes to ``self.stats['time_<name of the method>']`` and count
    the calls in ``self.stats['calls_<name of the method>']``.

    A call that raises is timed and counted too, and the exception goes on. ``self.stats`` must be a
    ``collections.defaultdict(int)``, or have the keys already.

    :param fn: The method to time.
    :return: The timed method.

    .. code-block:: python

        class Processor:
            @benchmark
            def get_data(self):
                ...
        # After 3 calls: processor.stats['time_get_data'] == 0.42, processor.stats['calls_get_data'] == 3
    """

    @functools.wraps(fn)
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(self, *args, **kwargs)
        finally:
            self.stats[f"time_{fn.__name__}"] += time.perf_counter() - started
            self.stats[f"calls_{fn.__name__}"] += 1

    return timed
