"""Orchestrator without any network: how many tasks to invoke, with a plain-Python stand-in for the TaskManager."""

import pytest

from sosw import constants
from sosw.exceptions import ConfigError, LabourersFailed
from sosw.labourer import Labourer
from sosw.orchestrator import Orchestrator
from tests.unit.essentials_offline import offline


class StubEcology:
    def __init__(self, running):
        self.running = dict(running)
        self.counted = []

    def count_running_tasks_for_labourer(self, labourer):
        self.counted.append(labourer.id)
        return self.running.get(labourer.id, 0)

    def add_running_tasks_for_labourer(self, labourer, count=1):
        self.running[labourer.id] = self.running.get(labourer.id, 0) + count


class StubTaskClient:
    """Queues of task ids per Labourer; ``refuse`` names Labourers whose invocation blows up."""

    def __init__(self, labourers, queues, running=None, refuse=()):
        self.labourers = labourers
        self.queues = {name: list(ids) for name, ids in queues.items()}
        self.ecology_client = StubEcology(running or {})
        self.refuse = set(refuse)
        self.asked = []
        self.invoked = []

    def register_labourers(self):
        return self.labourers

    def get_next_for_labourer(self, labourer, cnt=1, only_ids=False):
        self.asked.append((labourer.id, cnt))
        return [{"task_id": t} for t in self.queues.get(labourer.id, [])[:cnt]]

    def invoke_tasks(self, labourer, tasks):
        if labourer.id in self.refuse:
            raise RuntimeError(f"{labourer.id} is down")
        ids = [t["task_id"] for t in tasks]
        self.queues[labourer.id] = [t for t in self.queues[labourer.id] if t not in ids]
        self.invoked.extend(ids)
        return ids


def labourer(name="w", health=4, limit=10):
    result = Labourer(id=name, max_simultaneous_invocations=limit)
    result.set_custom_attribute("health", health)
    return result


@pytest.fixture
def make():
    """An Orchestrator without config rows whose task_client is the stub."""

    def build(stub, **config):
        orchestrator = offline(Orchestrator)(custom_config=config)
        orchestrator.task_client = stub
        return orchestrator

    return build


@pytest.mark.parametrize("health, running, expected", [
    (4, 0, 10), (4, 3, 7), (3, 0, 7), (3, 2, 5), (2, 0, 5), (2, 5, 0), (2, 9, 0), (1, 0, 0), (0, 0, 0),
])
def test_desired_number_is_floor_of_limit_times_coefficient_minus_running(make, health, running, expected):
    lab = labourer(health=health)
    stub = StubTaskClient([lab], {}, running={"w": running})
    assert make(stub).get_desired_invocation_number_for_labourer(lab) == expected
    assert expected == max(int(10 * constants.INVOCATION_NUMBER_COEFFICIENT[health]) - running, 0)


def test_no_running_count_is_asked_when_nothing_may_run(make):
    stub = StubTaskClient([], {}, running={"w": 0})
    assert make(stub).get_desired_invocation_number_for_labourer(labourer(health=1)) == 0
    assert stub.ecology_client.counted == []


@pytest.mark.parametrize("coefficients", [{"3": 0.3}, {3: 0.3}], ids=["string_keys", "int_keys"])
def test_coefficient_keys_may_be_strings_or_ints(make, coefficients):
    stub = StubTaskClient([], {})
    orchestrator = make(stub, invocation_number_coefficient=coefficients)
    assert orchestrator.get_desired_invocation_number_for_labourer(labourer(health=3, limit=10)) == 3
    assert orchestrator.get_desired_invocation_number_for_labourer(labourer(health=4, limit=10)) == 10


def test_limit_falls_back_to_the_orchestrator_default(make):
    stub = StubTaskClient([], {})
    lab = labourer(limit=None)
    assert make(stub).get_desired_invocation_number_for_labourer(lab) == 10
    assert make(stub, max_simultaneous_invocations=4).get_desired_invocation_number_for_labourer(lab) == 4


def test_zero_limit_invokes_nothing(make):
    assert make(StubTaskClient([], {})).get_desired_invocation_number_for_labourer(labourer(limit=0)) == 0


@pytest.mark.parametrize("coefficients, key", [({"high": 1}, "high"), ({"4": "lots"}, "4")])
def test_malformed_coefficients_are_a_config_error_at_construction(make, coefficients, key):
    with pytest.raises(ConfigError) as raised:
        make(StubTaskClient([], {}), invocation_number_coefficient=coefficients)
    assert raised.value.config_name == f"custom_config.invocation_number_coefficient.{key}"


def test_coefficients_of_a_layer_override_the_statuses_it_names(make):
    orchestrator = make(StubTaskClient([], {}), invocation_number_coefficient={"4": "0.5", "3": 0.25})
    assert dict(orchestrator.settings.invocation_number_coefficient) == {0: 0, 1: 0, 2: 0.5, 3: 0.25, 4: 0.5}
    assert orchestrator.coefficients == {0: 0, 1: 0, 2: 0.5, 3: 0.25, 4: 0.5}


def test_invoke_for_labourer_asks_for_the_desired_number_and_counts_them_running(make):
    lab = labourer(health=3, limit=8)  # floor(8 * 0.75) - 1 = 5
    stub = StubTaskClient([lab], {"w": [f"t{i}" for i in range(9)]}, running={"w": 1})
    orchestrator = make(stub)
    assert orchestrator.invoke_for_labourer(lab) == 5
    assert stub.asked == [("w", 5)]
    assert stub.invoked == ["t0", "t1", "t2", "t3", "t4"]
    assert stub.ecology_client.running["w"] == 6
    assert orchestrator.stats["invoked_w"] == 5
    # The running count is kept: nothing more this run.
    assert orchestrator.invoke_for_labourer(lab) == 0
    assert stub.asked == [("w", 5)]


def test_short_queue(make):
    lab = labourer(limit=10)
    stub = StubTaskClient([lab], {"w": ["t0", "t1"]})
    assert make(stub).invoke_for_labourer(lab) == 2


def test_a_failing_labourer_does_not_stop_the_others(make):
    labourers = [labourer("a"), labourer("broken"), labourer("c", limit=2)]
    stub = StubTaskClient(labourers, {"a": ["a1"], "broken": ["b1"], "c": ["c1", "c2", "c3"]}, refuse={"broken"})
    orchestrator = make(stub)
    with pytest.raises(LabourersFailed, match="broken"):  # after the others' work: Lambda's Errors metric shows it
        orchestrator({})
    assert stub.invoked == ["a1", "c1", "c2"]
    assert orchestrator.stats["labourer_failures"] == 1
