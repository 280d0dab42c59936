from collections import defaultdict
from itertools import count

import pytest

from sosw.components import benchmark as benchmark_module
from sosw.components.benchmark import benchmark


class Worker:
    def __init__(self):
        self.stats = defaultdict(int)

    @benchmark
    def process(self, item, *, double=False):
        """Process one item."""
        return item * 2 if double else item

    @benchmark
    def fail(self, message):
        raise RuntimeError(message)


@pytest.fixture
def clock(monkeypatch):
    """Make time.perf_counter tick by exactly one second at each reading."""
    ticks = count()
    monkeypatch.setattr(benchmark_module.time, "perf_counter", lambda: float(next(ticks)))


@pytest.mark.parametrize(
    "calls, expected_time",
    [
        ([], 0),
        ([((1,), {})], 1.0),
        ([((1,), {}), ((2,), {"double": True}), ((3,), {})], 3.0),
    ],
)
def test_benchmark_accumulates_time(clock, calls, expected_time):
    worker = Worker()
    for args, kwargs in calls:
        worker.process(*args, **kwargs)
    assert worker.stats["time_process"] == expected_time
    assert worker.stats["calls_process"] == len(calls)
    assert set(worker.stats) <= {"time_process", "calls_process"}


@pytest.mark.parametrize(
    "args, kwargs, expected",
    [
        ((5,), {}, 5),
        ((5,), {"double": True}, 10),
        ((), {"item": "a", "double": True}, "aa"),
    ],
)
def test_benchmark_passes_arguments_and_result(args, kwargs, expected):
    assert Worker().process(*args, **kwargs) == expected


def test_benchmark_records_time_of_a_call_that_raises(clock):
    worker = Worker()
    with pytest.raises(RuntimeError, match="boom"):
        worker.fail("boom")
    with pytest.raises(RuntimeError, match="again"):
        worker.fail("again")
    assert worker.stats == {"time_fail": 2.0, "calls_fail": 2}


def test_benchmark_measures_real_time():
    worker = Worker()
    worker.process(1)
    assert worker.stats["time_process"] > 0


def test_benchmark_keeps_the_identity_of_the_method():
    assert Worker.process.__name__ == "process"
    assert Worker.process.__doc__ == "Process one item."
    assert Worker.process.__wrapped__.__name__ == "process"


def test_benchmark_adds_to_existing_stats(clock):
    worker = Worker()
    worker.stats["time_process"] = 10.0
    worker.stats["calls_process"] = 4
    worker.stats["other"] = 3
    worker.process(1)
    assert worker.stats == {"time_process": 11.0, "calls_process": 5, "other": 3}
