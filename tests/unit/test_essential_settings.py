"""
The settings of the Orchestrator, Scavenger, WorkerAssistant and Worker: the config is parsed once, at construction,
and a bad value fails there as ``ConfigError`` naming ``<config row>.<key>`` — not at run time, once per Labourer.
"""

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Mapping
from unittest.mock import MagicMock

import pytest

from sosw import constants
from sosw._settings import (
    CUSTOM_CONFIG_NAME,
    config_row_name,
    parse_bool,
    parse_int,
    parse_mapping,
    parse_number,
    parse_seconds,
    parse_text,
)
from sosw.app import get_lambda_handler
from sosw.exceptions import ConfigError
from sosw.labourer import Labourer
from sosw.orchestrator import Orchestrator, OrchestratorSettings
from sosw.scavenger import Scavenger, ScavengerSettings
from sosw.worker import Worker, WorkerSettings
from sosw.worker_assistant import WorkerAssistant, WorkerAssistantSettings
from tests.unit.essentials_offline import offline

ROW = CUSTOM_CONFIG_NAME
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# (class, its settings class, attribute holding them)
PROCESSORS = [
    (Orchestrator, OrchestratorSettings, "settings"),
    (Scavenger, ScavengerSettings, "settings"),
    (WorkerAssistant, WorkerAssistantSettings, "settings"),
    (Worker, WorkerSettings, "worker_settings"),
]


# Shared parsers ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("parse, value, expected", [
    (parse_int, 10, 10), (parse_int, "10", 10), (parse_int, " 7 ", 7), (parse_int, 10.0, 10),
    (parse_int, Decimal("3"), 3), (parse_int, 0, 0),
    (parse_number, "0.75", 0.75), (parse_number, Decimal("0.5"), 0.5), (parse_number, 1, 1.0),
    (parse_number, -2, -2.0),
    (parse_seconds, "90", 90.0), (parse_seconds, 0, 0.0), (parse_seconds, 12.5, 12.5), (parse_seconds, "1e3", 1000.0),
    (parse_bool, "yes", True), (parse_bool, "False", False), (parse_bool, 0, False), (parse_bool, None, False),
    (parse_text, "sosw_worker_assistant", "sosw_worker_assistant"),
    (parse_mapping, None, {}), (parse_mapping, {"a": 1}, {"a": 1}),
])
def test_parsers_accept(parse, value, expected):
    assert parse(value, "row.key") == expected


@pytest.mark.parametrize("parse, value", [
    (parse_int, "ten"), (parse_int, 2.5), (parse_int, "2.5"), (parse_int, True), (parse_int, None), (parse_int, -1),
    (parse_int, [1]), (parse_int, float("inf")),
    (parse_number, "lots"), (parse_number, float("nan")), (parse_number, "inf"), (parse_number, False),
    (parse_number, None),
    (parse_seconds, "soon"), (parse_seconds, -1), (parse_seconds, True), (parse_seconds, {"s": 1}),
    (parse_bool, "maybe"), (parse_bool, [True]),
    (parse_text, ""), (parse_text, "  "), (parse_text, None), (parse_text, 5),
    (parse_mapping, "x"), (parse_mapping, [("a", 1)]),
])
def test_parsers_refuse_naming_the_key(parse, value):
    with pytest.raises(ConfigError) as raised:
        parse(value, "row.key")
    assert raised.value.config_name == "row.key"
    assert str(raised.value).startswith("row.key: ") and repr(value) in str(raised.value)


def test_bounds():
    assert parse_int(-3, "row.key", minimum=None) == -3
    with pytest.raises(ConfigError, match="at least 1"):
        parse_int(0, "row.key", minimum=1)
    with pytest.raises(ConfigError, match="at least 0"):
        parse_number(-0.1, "row.key", minimum=0)


def test_a_parsed_mapping_is_a_read_only_copy():
    source = {"nested": {"a": 1}}
    parsed = parse_mapping(source, "row.key")
    source["nested"]["a"] = 2
    assert parsed["nested"] == {"a": 1}
    with pytest.raises(TypeError):
        parsed["b"] = 1  # type: ignore[index]  # what the test checks


def test_the_row_is_the_function_s_own_else_custom_config(monkeypatch):
    assert config_row_name() == "custom_config"
    monkeypatch.setenv(constants.ENV_FUNCTION_NAME, "sosw_scavenger")
    assert config_row_name() == "sosw_scavenger_config"


# Defaults and values ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, settings_cls, attr", PROCESSORS, ids=[p[0].__name__ for p in PROCESSORS])
def test_defaults_are_the_class_defaults_and_frozen(cls, settings_cls, attr):
    settings = getattr(offline(cls)(), attr)

    assert settings == settings_cls.from_config(cls.DEFAULT_CONFIG, ROW) == settings_cls.from_config({}, ROW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.config_name = "other"


def test_default_values():
    orchestrator, scavenger = OrchestratorSettings.from_config({}, ROW), ScavengerSettings.from_config({}, ROW)
    assert dict(orchestrator.invocation_number_coefficient) == constants.INVOCATION_NUMBER_COEFFICIENT
    assert orchestrator.max_simultaneous_invocations == 10
    assert (scavenger.min_retry_delay, scavenger.retry_tasks_limit, scavenger.dead_sns_topic) == \
        (0, 100, "SoswWorkerErrors")
    worker, assistant = WorkerSettings.from_config({}, ROW), WorkerAssistantSettings.from_config({}, ROW)
    assert (worker.worker_assistant_lambda, worker.meta_handler_config) == ("sosw_worker_assistant", None)
    assert (dict(assistant.dynamo_db_config), dict(assistant.field_names)) == ({}, {})


# (class, config, settings attribute, parsed value): every value that worked before the settings still works.
GOOD = [
    (Orchestrator, {"invocation_number_coefficient": {"4": "0.5"}}, "invocation_number_coefficient",
     {0: 0, 1: 0, 2: 0.5, 3: 0.75, 4: 0.5}),
    (Orchestrator, {"invocation_number_coefficient": {3: Decimal("0.25")}}, "invocation_number_coefficient",
     {0: 0, 1: 0, 2: 0.5, 3: 0.25, 4: 1}),
    (Orchestrator, {"invocation_number_coefficient": None}, "invocation_number_coefficient", {}),
    (Orchestrator, {"max_simultaneous_invocations": "20"}, "max_simultaneous_invocations", 20),
    (Orchestrator, {"max_simultaneous_invocations": Decimal("7")}, "max_simultaneous_invocations", 7),
    (Orchestrator, {"max_simultaneous_invocations": 0}, "max_simultaneous_invocations", 0),
    (Scavenger, {"min_retry_delay": "90"}, "min_retry_delay", 90),
    (Scavenger, {"min_retry_delay": Decimal("30")}, "min_retry_delay", 30),
    (Scavenger, {"min_retry_delay": 60.9}, "min_retry_delay", 60),  # whole seconds, as int() made it
    (Scavenger, {"min_retry_delay": None}, "min_retry_delay", 0),
    (Scavenger, {"min_retry_delay": ""}, "min_retry_delay", 0),
    (Scavenger, {"retry_tasks_limit": "50"}, "retry_tasks_limit", 50),
    (Scavenger, {"dead_sns_topic": "arn:aws:sns:us-west-2:000000000000:Dead"}, "dead_sns_topic",
     "arn:aws:sns:us-west-2:000000000000:Dead"),
    (WorkerAssistant, {"dynamo_db_config": {"field_names": {"task_id": "id"}}}, "field_names", {"task_id": "id"}),
    (WorkerAssistant, {"dynamo_db_config": {"table_name": "my_tasks"}}, "dynamo_db_config",
     {"table_name": "my_tasks"}),
    (Worker, {"sosw_worker_assistant_lambda": "my_assistant"}, "worker_assistant_lambda", "my_assistant"),
    (Worker, {"meta_handler_config": {"write_meta_to_ddb": True}}, "meta_handler_config", {"write_meta_to_ddb": True}),
]


@pytest.mark.parametrize("cls, config, field, expected", GOOD, ids=[f"{g[0].__name__}-{g[2]}" for g in GOOD])
def test_values_are_parsed(cls, config, field, expected):
    attr = "worker_settings" if cls is Worker else "settings"
    value = getattr(getattr(offline(cls)(custom_config=config), attr), field)
    assert (dict(value) if isinstance(value, Mapping) else value) == expected


@pytest.mark.parametrize("essential, cls", [
    ("sosw_orchestrator", Orchestrator), ("sosw_scavenger", Scavenger), ("sosw_worker_assistant", WorkerAssistant),
])
def test_the_example_config_rows_are_accepted(essential, cls, monkeypatch):
    rows = {path.stem: json.loads(path.read_text()) for path in (EXAMPLES / "essentials" / ".config").glob("*.json")}
    monkeypatch.setenv(constants.ENV_FUNCTION_NAME, essential)

    assert offline(cls, rows)().settings.config_name == f"{essential}_config"


# Bad values: at construction, naming the row and key ---------------------------------------------------------------

# (class, config, key named by the error)
BAD = [
    (Orchestrator, {"invocation_number_coefficient": "lots"}, "invocation_number_coefficient"),
    (Orchestrator, {"invocation_number_coefficient": [0, 0, 0.5]}, "invocation_number_coefficient"),
    (Orchestrator, {"invocation_number_coefficient": {"high": 1}}, "invocation_number_coefficient.high"),
    (Orchestrator, {"invocation_number_coefficient": {"4": "lots"}}, "invocation_number_coefficient.4"),
    (Orchestrator, {"invocation_number_coefficient": {"4": -1}}, "invocation_number_coefficient.4"),
    (Orchestrator, {"invocation_number_coefficient": {"4": None}}, "invocation_number_coefficient.4"),
    (Orchestrator, {"invocation_number_coefficient": {"4": float("nan")}}, "invocation_number_coefficient.4"),
    (Orchestrator, {"max_simultaneous_invocations": "ten"}, "max_simultaneous_invocations"),
    (Orchestrator, {"max_simultaneous_invocations": -1}, "max_simultaneous_invocations"),
    (Orchestrator, {"max_simultaneous_invocations": 2.5}, "max_simultaneous_invocations"),
    (Orchestrator, {"max_simultaneous_invocations": None}, "max_simultaneous_invocations"),
    (Orchestrator, {"max_simultaneous_invocations": True}, "max_simultaneous_invocations"),
    (Scavenger, {"min_retry_delay": "soon"}, "min_retry_delay"),
    (Scavenger, {"min_retry_delay": -60}, "min_retry_delay"),
    (Scavenger, {"min_retry_delay": [60]}, "min_retry_delay"),
    (Scavenger, {"min_retry_delay": True}, "min_retry_delay"),
    (Scavenger, {"retry_tasks_limit": 0}, "retry_tasks_limit"),
    (Scavenger, {"retry_tasks_limit": "many"}, "retry_tasks_limit"),
    (Scavenger, {"retry_tasks_limit": None}, "retry_tasks_limit"),
    (Scavenger, {"retry_tasks_limit": 2.5}, "retry_tasks_limit"),
    (Scavenger, {"dead_sns_topic": ""}, "dead_sns_topic"),
    (Scavenger, {"dead_sns_topic": None}, "dead_sns_topic"),
    (Scavenger, {"dead_sns_topic": 5}, "dead_sns_topic"),
    (WorkerAssistant, {"dynamo_db_config": "sosw_tasks"}, "dynamo_db_config"),
    (WorkerAssistant, {"dynamo_db_config": {"field_names": ["task_id"]}}, "dynamo_db_config.field_names"),
    (WorkerAssistant, {"dynamo_db_config": {"field_names": {"task_id": ""}}}, "dynamo_db_config.field_names.task_id"),
    (WorkerAssistant, {"dynamo_db_config": {"field_names": {"task_id": 5}}}, "dynamo_db_config.field_names.task_id"),
    (Worker, {"sosw_worker_assistant_lambda": ""}, "sosw_worker_assistant_lambda"),
    (Worker, {"sosw_worker_assistant_lambda": None}, "sosw_worker_assistant_lambda"),
    (Worker, {"sosw_worker_assistant_lambda": ["sosw_worker_assistant"]}, "sosw_worker_assistant_lambda"),
    (Worker, {"meta_handler_config": "on"}, "meta_handler_config"),
]


@pytest.mark.parametrize("cls, config, key", BAD, ids=[f"{b[0].__name__}-{b[2]}={b[1][b[2].split('.')[0]]!r}"
                                                       for b in BAD])
def test_a_bad_value_fails_at_construction_naming_the_row_and_key(cls, config, key):
    with pytest.raises(ConfigError) as raised:
        offline(cls)(custom_config=config)

    assert raised.value.config_name == f"{ROW}.{key}"
    assert str(raised.value).startswith(f"{ROW}.{key}: ")


@pytest.mark.parametrize("cls, config, key", [BAD[0], BAD[12], BAD[23], BAD[27]],
                         ids=["Orchestrator", "Scavenger", "WorkerAssistant", "Worker"])
def test_a_bad_value_in_the_function_s_row_names_that_row(cls, config, key, monkeypatch):
    monkeypatch.setenv(constants.ENV_FUNCTION_NAME, "my_function")

    with pytest.raises(ConfigError) as raised:
        offline(cls, {"my_function_config": config})()

    assert raised.value.config_name == f"my_function_config.{key}"


def test_a_scavenger_with_a_bad_min_retry_delay_fails_its_invocation_instead_of_exiting_0(monkeypatch):
    """Before the settings it logged an error per Labourer, returned normally and left expired tasks piling up."""
    monkeypatch.setenv(constants.ENV_FUNCTION_NAME, "sosw_scavenger")
    handler = get_lambda_handler(offline(Scavenger, {"sosw_scavenger_config": {"min_retry_delay": "soon"}}))

    with pytest.raises(ConfigError, match="^sosw_scavenger_config.min_retry_delay: "):
        handler({}, None)


# Parsed once, used at run time -------------------------------------------------------------------------------------

def labourer(max_duration=5, health=4, limit=None):
    result = Labourer(id="w", max_simultaneous_invocations=limit)
    result.set_custom_attribute("max_duration", max_duration)
    result.set_custom_attribute("max_attempts", 3)
    result.set_custom_attribute("health", health)
    return result


def test_the_scavenger_uses_its_settings_not_the_dict():
    scavenger = offline(Scavenger)(custom_config={"min_retry_delay": 60, "retry_tasks_limit": 7})
    scavenger.task_client = MagicMock()
    scavenger.task_client.get_db_field_name.side_effect = lambda key: key
    scavenger.config.update(min_retry_delay="soon", retry_tasks_limit="many")

    assert scavenger.calculate_delay_for_task_retry(labourer(), {"attempts": 2}) == 120
    scavenger.retry_tasks(labourer())
    assert scavenger.task_client.get_tasks_to_retry_for_labourer.call_args.kwargs["limit"] == 7


def test_the_scavenger_announces_dead_tasks_to_its_dead_sns_topic():
    scavenger = offline(Scavenger)(custom_config={"dead_sns_topic": "arn:aws:sns:us-west-2:000000000000:Dead"})
    scavenger.task_client = MagicMock()
    scavenger.task_client.get_db_field_name.side_effect = lambda key: key
    scavenger.task_client.archive_many.return_value = ["t1"]
    scavenger.sns_client = MagicMock(recipient=None)

    scavenger.process_expired_task(labourer(), {"task_id": "t1", "attempts": 3})

    scavenger.sns_client.set_recipient.assert_called_once_with("arn:aws:sns:us-west-2:000000000000:Dead")
    scavenger.sns_client.send_message.assert_called_once()


def test_the_orchestrator_uses_its_settings_not_the_dict():
    orchestrator = offline(Orchestrator)(custom_config={"max_simultaneous_invocations": 4})
    orchestrator.task_client = MagicMock()
    orchestrator.task_client.ecology_client.count_running_tasks_for_labourer.return_value = 0
    orchestrator.config.update(max_simultaneous_invocations="ten", invocation_number_coefficient={4: "lots"})

    assert orchestrator.get_desired_invocation_number_for_labourer(labourer(health=4)) == 4
    assert orchestrator.get_desired_invocation_number_for_labourer(labourer(health=3)) == 3  # floor(4 x 0.75)


def test_the_worker_asks_the_worker_assistant_of_its_settings():
    worker = offline(Worker)(custom_config={"sosw_worker_assistant_lambda": "my_assistant"})
    worker.lambda_client = MagicMock()
    worker.config["sosw_worker_assistant_lambda"] = "not read again"

    worker({"task_id": "t1"})

    call = worker.lambda_client.invoke.call_args.kwargs
    assert call["FunctionName"] == "my_assistant" and call["InvocationType"] == "Event"
    assert json.loads(call["Payload"])["task_id"] == "t1"


def test_the_worker_assistant_reads_field_names_from_its_settings_without_a_task_client():
    assistant = offline(WorkerAssistant)(custom_config={"dynamo_db_config": {"field_names": {"task_id": "id"}}})

    assert assistant.get_db_field_name("task_id") == "id"
    assert assistant.get_db_field_name("completed_at") == "completed_at"
    assert assistant.config["task_config"]["dynamo_db_config"]["field_names"] == {"task_id": "id"}
