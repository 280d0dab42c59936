"""The Scheduler's settings: parsed once, at construction; a bad value fails there naming the config row and key."""

import dataclasses

import pytest

from sosw.exceptions import ConfigError, InvalidJob, SchedulerConfigError, UnknownJobSchema
from sosw.scheduler import Scheduler
from sosw.scheduling.settings import SchedulerSettings

ROW = "sosw_scheduler_config"


class OfflineScheduler(Scheduler):
    """The Scheduler without AWS clients."""

    DEFAULT_CONFIG = {**Scheduler.DEFAULT_CONFIG, "init_clients": []}

    def get_config(self, name):
        return {}  # no config rows: the test gives its config


def test_defaults_are_the_scheduler_defaults():
    settings = OfflineScheduler().settings

    assert settings == SchedulerSettings.from_config(Scheduler.DEFAULT_CONFIG, ROW)
    assert (settings.queue_bucket, settings.s3_prefix, settings.queue_dir) == (None, "sosw/scheduler/", None)
    assert (settings.batch_size, settings.shutdown_period, settings.queue_lock_timeout) == (500, 60.0, 900.0)
    assert settings.job_schema.chunkable_attrs == ()
    assert dict(settings.job_schema_variants) == {"default": settings.job_schema}
    assert settings.custom_period_patterns == ()


def test_settings_are_frozen():
    settings = SchedulerSettings.from_config({}, ROW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.batch_size = 1
    with pytest.raises(TypeError):
        settings.job_schema_variants["other"] = settings.job_schema


@pytest.mark.parametrize("config, expected", [
    ({"shutdown_period": "90"}, ("shutdown_period", 90.0)),
    ({"shutdown_period": 0}, ("shutdown_period", 0.0)),
    ({"queue_lock_timeout": 12.5}, ("queue_lock_timeout", 12.5)),
    ({"s3_prefix": "queues"}, ("s3_prefix", "queues/")),
    ({"s3_prefix": ""}, ("s3_prefix", "")),
    ({"s3_prefix": None}, ("s3_prefix", "")),
    ({"queue_bucket": ""}, ("queue_bucket", None)),
    ({"queue_bucket": "my-bucket"}, ("queue_bucket", "my-bucket")),
    ({"queue_dir": "/var/queues"}, ("queue_dir", "/var/queues")),
    ({"batch_size": 25}, ("batch_size", 25)),
    ({"custom_period_patterns": ["last_[0-9]+_weeks"]}, ("custom_period_patterns", ("last_[0-9]+_weeks",))),
    ({"custom_period_patterns": None}, ("custom_period_patterns", ())),
])
def test_values_are_parsed(config, expected):
    key, value = expected
    assert getattr(SchedulerSettings.from_config(config, ROW), key) == value


# (config, key named by the error, error class)
BAD_CONFIGS = [
    ({"shutdown_period": "soon"}, "shutdown_period", ConfigError),
    ({"shutdown_period": -1}, "shutdown_period", ConfigError),
    ({"shutdown_period": True}, "shutdown_period", ConfigError),
    ({"shutdown_period": None}, "shutdown_period", ConfigError),
    ({"queue_lock_timeout": float("inf")}, "queue_lock_timeout", ConfigError),
    ({"queue_lock_timeout": [900]}, "queue_lock_timeout", ConfigError),
    ({"batch_size": 0}, "batch_size", ConfigError),
    ({"batch_size": "500"}, "batch_size", ConfigError),
    ({"batch_size": 2.5}, "batch_size", ConfigError),
    ({"batch_size": True}, "batch_size", ConfigError),
    ({"queue_bucket": 5}, "queue_bucket", ConfigError),
    ({"s3_prefix": ["a"]}, "s3_prefix", ConfigError),
    ({"queue_dir": 3}, "queue_dir", ConfigError),
    ({"job_schema": {"chunkable_attrs": ["words"]}}, "job_schema.chunkable_attrs", SchedulerConfigError),
    ({"job_schema": ["word"]}, "job_schema", SchedulerConfigError),
    ({"job_schema_variants": ["a"]}, "job_schema_variants", SchedulerConfigError),
    ({"job_schema_variants": {"v": {"chunkable_attrs": "word"}}}, "job_schema_variants.v.chunkable_attrs",
     SchedulerConfigError),
    ({"custom_period_patterns": "last_[0-9]+_weeks"}, "custom_period_patterns", SchedulerConfigError),
    ({"custom_period_patterns": ["("]}, "custom_period_patterns", SchedulerConfigError),
    ({"custom_period_patterns": ["fortnight"]}, "custom_period_patterns", SchedulerConfigError),
]


@pytest.mark.parametrize("config, key, error", BAD_CONFIGS, ids=[f"{case[1]}={case[0]}" for case in BAD_CONFIGS])
def test_a_bad_value_fails_at_construction_naming_the_row_and_key(config, key, error):
    with pytest.raises(error) as raised:
        OfflineScheduler(custom_config=config)

    assert raised.value.config_name == f"{ROW}.{key}"
    assert str(raised.value).startswith(f"{ROW}.{key}: ")


def test_the_row_is_the_function_s_own(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_scheduler")

    with pytest.raises(ConfigError, match="^my_scheduler_config.shutdown_period: "):
        OfflineScheduler(custom_config={"shutdown_period": "soon"})


def test_queue_bucket_is_required_only_when_used():
    settings = SchedulerSettings.from_config({}, ROW)

    with pytest.raises(ConfigError) as raised:
        _ = settings.bucket
    assert raised.value.config_name == f"{ROW}.queue_bucket"
    assert SchedulerSettings.from_config({"queue_bucket": "b"}, ROW).bucket == "b"


def test_local_dir_defaults_to_the_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert SchedulerSettings.from_config({}, ROW).local_dir == str(tmp_path)
    assert SchedulerSettings.from_config({"queue_dir": "/q"}, ROW).local_dir == "/q"


def test_job_schema_variants():
    settings = SchedulerSettings.from_config({
        "job_schema": {"chunkable_attrs": ["topic"]},
        "job_schema_variants": {"by_word": {"chunkable_attrs": [("word", {})]}},
    }, ROW)

    assert settings.job_schema_variant().chunkable_attrs == ("topic",)
    assert settings.job_schema_variant("").chunkable_attrs == ("topic",)
    assert settings.job_schema_variant("by_word").chunkable_attrs == ("word",)
    assert settings.job_schema_variant("by_word").source == {"chunkable_attrs": [("word", {})]}
    with pytest.raises(UnknownJobSchema) as raised:
        settings.job_schema_variant("nope")
    assert raised.value.field == "job_schema_name"
    with pytest.raises(InvalidJob):
        settings.job_schema_variant(3)


def test_an_explicit_default_variant_wins_over_job_schema():
    settings = SchedulerSettings.from_config({
        "job_schema": {"chunkable_attrs": ["topic"]},
        "job_schema_variants": {"default": {"chunkable_attrs": ["word"]}},
    }, ROW)

    assert settings.job_schema.chunkable_attrs == ("topic",)
    assert settings.job_schema_variant().chunkable_attrs == ("word",)


def test_the_config_is_parsed_once():
    scheduler = OfflineScheduler(custom_config={"batch_size": 10})
    scheduler.config["batch_size"] = "not read again"

    assert scheduler.batch_size == 10
