"""Labourer: attributes from config, defaults, and the custom attributes of a run."""

import pytest

from sosw import constants
from sosw.labourer import Labourer


def test_defaults():
    labourer = Labourer(id="worker")
    assert labourer.id == "worker"
    assert labourer.arn is None
    assert labourer.function_name == "worker"
    assert labourer.max_simultaneous_invocations is None
    assert labourer.health_metrics == {}
    assert labourer.duration == constants.DEFAULT_DURATION == 900
    assert labourer.cooldown == constants.DEFAULT_COOLDOWN == 300
    assert labourer.duration_configured is False
    assert "worker" in repr(labourer)


def test_attributes_from_config():
    arn = "arn:aws:lambda:us-west-2:123456789012:function:worker"
    metrics = {"cpu": {"details": {}, "feelings": {3: 50}, "feeling_comparison_operator": "<="}}
    labourer = Labourer(id="worker", arn=arn, max_simultaneous_invocations=7, health_metrics=metrics, duration="60",
                        cooldown=15, max_attempts=5, max_ram=512, team="data")
    assert labourer.arn == arn and labourer.function_name == arn
    assert labourer.max_simultaneous_invocations == 7
    assert labourer.health_metrics == metrics
    assert labourer.duration == 60 and labourer.duration_configured is True
    assert labourer.cooldown == 15
    assert labourer.max_attempts == 5 and labourer.max_ram == 512
    assert labourer.team == "data"  # unknown settings become attributes as they are


def test_zero_duration_counts_as_configured():
    labourer = Labourer(id="w", duration=0, cooldown=0)
    assert labourer.duration == 0 and labourer.cooldown == 0 and labourer.duration_configured is True


@pytest.mark.parametrize("any_id", [1, "1", "w"])
def test_any_id_is_accepted_and_invoked_as_text(any_id):
    labourer = Labourer(id=any_id)
    assert labourer.id == any_id
    assert labourer.function_name == str(any_id)


def test_custom_attributes():
    labourer = Labourer(id="w")
    for name, value in (("start", 100), ("invoked", 200), ("expired", 150), ("health", 3), ("max_attempts", 4),
                        ("average_incremental", 1.5), ("max_duration", 42)):
        labourer.set_custom_attribute(name, value)
        assert labourer.get_attr(name) == value
    labourer.set_custom_attribute("start", 101)
    assert labourer.get_attr("start") == 101


def test_custom_attribute_not_set_yet():
    with pytest.raises(AttributeError, match="register"):
        Labourer(id="w").get_attr("start")


@pytest.mark.parametrize("name", ["duration", "whatever", "_start"])
def test_only_custom_attributes_can_be_set_or_read(name):
    labourer = Labourer(id="w", arn="a")
    with pytest.raises(ValueError, match="custom attribute"):
        labourer.set_custom_attribute(name, 1)
    with pytest.raises(ValueError, match="custom attribute"):
        labourer.get_attr(name)
    assert labourer.arn == "a"


def test_custom_attributes_do_not_leak_between_labourers():
    first, second = Labourer(id="a"), Labourer(id="b")
    first.set_custom_attribute("health", 1)
    with pytest.raises(AttributeError):
        second.get_attr("health")
