"""COMPAT.md "Labourer": the Labourer as users of sosw 0.7.47 build and read it."""

import pytest

from sosw.labourer import Labourer

ARN = "arn:aws:lambda:us-west-2:000000000000:function:some_function"


def test_strict_refuses_an_unknown_attribute_with_attribute_error():
    with pytest.raises(AttributeError, match="colour"):
        Labourer(strict=True, id="some_function", colour="red")

    labourer = Labourer(strict=True, id="some_function", arn=ARN)
    assert (labourer.id, labourer.arn) == ("some_function", ARN)
    assert not hasattr(labourer, "strict")  # an argument, not an attribute

    assert Labourer(id="some_function", colour="red").colour == "red"  # not strict: anything goes


def test_defaults_and_set_defaults():
    assert Labourer.DEFAULTS == {"duration": 900, "cooldown": 300}
    labourer = Labourer(id="some_function", duration=120)
    assert (labourer.duration, labourer.cooldown) == (120, 300)

    labourer.cooldown = None
    labourer.set_defaults()
    assert labourer.cooldown == 300 and labourer.duration == 120


def test_attributes_and_custom_attributes_of_the_original():
    assert {"id", "arn"} <= set(Labourer.ATTRIBUTES)
    originals = ("arn", "start", "invoked", "expired", "health", "health_metrics", "average_duration",
                 "max_duration", "max_attempts", "max_simultaneous_invocations")
    assert set(originals) <= set(Labourer.CUSTOM_ATTRIBUTES)

    labourer = Labourer(id="some_function")
    for number, name in enumerate(originals):
        labourer.set_custom_attribute(name, number)
        assert labourer.get_attr(name) == number
    with pytest.raises(ValueError):
        labourer.set_custom_attribute("colour", "red")


def test_custom_attributes_are_readable_as_plain_attributes():
    labourer = Labourer(id="some_function", arn=ARN)
    labourer.set_custom_attribute("start", 1_700_000_000)
    labourer.set_custom_attribute("average_duration", 42)
    assert labourer.start == 1_700_000_000 and labourer.average_duration == 42

    labourer.expired = 1_700_000_100  # users' tests set them directly, too
    assert labourer.get_attr("expired") == 1_700_000_100
    assert labourer.get_attr("arn") == ARN

    with pytest.raises(AttributeError):
        Labourer(id="some_function").get_attr("start")  # not registered yet


def test_any_id_is_accepted():
    labourer = Labourer(id=1)  # configs in the wild use numbers
    assert labourer.id == 1
