"""
The kicked Orchestrator's dispatch session, timed on a simulated clock: a Labourer whose tasks end about ``duration``
seconds after their dispatch (a seeded spread), a limit of 10 and a long queue. The session's own DynamoDB calls
(the lease) are not part of this: ``_dispatch`` is the loop between them; the loop on the moto server and the local
Lambda service is in ``tests/integration/test_kick.py`` and ``benchmarks/dispatch.py``.
"""

import random
from collections import Counter
from types import SimpleNamespace
from typing import List, Tuple

import pytest

from sosw._kick_session import KickSession
from sosw.labourer import Labourer

LIMIT = 10


class SimulatedLabourer:
    """What the session asks of the TaskManager, answered from a simulated queue and clock: each invoked task runs
    ``duration`` seconds plus a spread drawn from ``seed``."""

    def __init__(self, queued: int, duration: float, spread: float, seed: int = 1):
        self.now = 0.0
        self.queued = queued
        self.duration, self.spread = duration, spread
        self.random = random.Random(seed)
        self.ends: List[float] = []
        self.starts: List[float] = []
        self.calls: Counter = Counter()
        self.peak = 0
        self.ecology_client = SimpleNamespace(add_running_tasks_for_labourer=lambda labourer, count: None)
        self.fields = SimpleNamespace(task_id="task_id")
        self.stats: Counter = Counter()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def running(self) -> int:
        return sum(1 for end in self.ends if end > self.now)

    def get_count_of_running_tasks_for_labourer(self, labourer: Labourer) -> int:
        self.calls["count"] += 1
        return self.running()

    def get_next_for_labourer(self, labourer: Labourer, cnt: int) -> List[int]:
        self.calls["next"] += 1
        return list(range(min(cnt, self.queued)))

    def invoke_tasks(self, labourer: Labourer, tasks: List[int], room: int, lease_owner: str) -> List[int]:
        self.calls["invoke"] += 1
        assert len(tasks) <= room
        self.queued -= len(tasks)
        for _ in tasks:
            self.starts.append(self.now)
            self.ends.append(self.now + self.duration + self.random.uniform(0, self.spread))
        self.peak = max(self.peak, self.running())
        return tasks


def session(simulated: SimulatedLabourer, budget: float = 600.0) -> KickSession:
    orchestrator = SimpleNamespace(task_client=simulated, stats=Counter(), capacity=lambda labourer: LIMIT)
    return KickSession(orchestrator, Labourer(id="w", max_simultaneous_invocations=LIMIT), budget,
                       clock=simulated.clock, sleep=simulated.sleep)


def run(queued: int, duration: float, spread: float, seed: int = 1) -> Tuple[SimulatedLabourer, KickSession, int]:
    simulated = SimulatedLabourer(queued, duration, spread, seed)
    kick_session = session(simulated)
    return simulated, kick_session, kick_session._dispatch()


# After the first count of a wave (timed at its learnt end), the counts come every 1/60 of a wave until it is over:
# a wave spread over a twelfth of its length takes ~5 of them.
@pytest.mark.parametrize("duration, spread, counts", [(1.2, 0.1, 5.0), (1.2, 0.3, 6.0), (5.0, 0.5, 7.5),
                                                      (0.3, 0.05, 3.0)])
def test_a_wave_costs_a_few_counts_and_starts_soon_after_the_last_one_ended(duration, spread, counts):
    simulated, kick_session, invoked = run(300, duration, spread)

    assert invoked == 300 and simulated.queued == 0
    assert simulated.peak <= LIMIT
    waves = simulated.calls["invoke"]
    assert waves <= 300 / LIMIT * 1.1  # each dispatch starts a whole wave
    assert simulated.calls["count"] / waves <= counts, simulated.calls
    # Each wave starts within a few hundredths of a second (plus the learning of the first waves) of the end of the
    # last task of the one before: the limit, not the session, sets the pace.
    ideal = 300 / LIMIT * (duration + spread)
    assert simulated.starts[-1] <= ideal * 1.08 + 2, (simulated.starts[-1], ideal)
    assert kick_session.free_after == pytest.approx(duration + spread, rel=0.15)


def test_stragglers_do_not_hold_the_free_slots_for_long():
    # One task of each dispatch runs four seconds longer: once a wave runs half as long again as waves do, the
    # session dispatches the slots that are free.
    simulated = SimulatedLabourer(100, 1.0, 0.05)
    ends = simulated.ends
    original = simulated.invoke_tasks

    def invoke_with_stragglers(labourer, tasks, room, lease_owner):
        done = original(labourer, tasks, room, lease_owner)
        ends[-1] += 4.0  # the last task of each dispatch straggles
        return done

    simulated.invoke_tasks = invoke_with_stragglers
    kick_session = session(simulated)
    invoked = kick_session._dispatch()

    assert invoked == 100 and simulated.peak <= LIMIT
    dispatches = sorted(set(simulated.starts))
    assert dispatches[1] <= 2.1  # nothing learnt yet: two seconds
    gaps = [later - earlier for earlier, later in zip(dispatches[1:], dispatches[2:])]
    assert max(gaps) <= 2.0, gaps  # while it learns
    assert max(gaps[5:]) <= 1.5 * kick_session.free_after + 0.1, gaps  # once it has learnt
    assert kick_session.free_after == pytest.approx(1.0, abs=0.1)


def test_the_session_ends_when_the_queue_is_empty_and_when_its_budget_is_spent():
    simulated, _session, invoked = run(25, 1.0, 0.1)
    assert invoked == 25 and simulated.calls["next"] == 3

    simulated = SimulatedLabourer(1000, 1.0, 0.1)
    kick_session = session(simulated, budget=10.0)
    invoked = kick_session._dispatch()
    assert simulated.now <= 10.0 and 0 < invoked < 1000 and kick_session.queue_left
