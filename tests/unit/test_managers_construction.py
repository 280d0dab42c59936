"""The managers built with injected collaborators, no network: settings checked at construction, the greenfield
rules as data, and what the TaskManager asks of DynamoDB and Lambda (recording fakes and MagicMocks)."""

import json
from collections import defaultdict
from unittest.mock import MagicMock

import pytest

from sosw import constants
from sosw.exceptions import ConfigError, TransactionCancelled, UnsupportedSetting
from sosw.labourer import Labourer
from sosw.managers import _greenfield as rules
from sosw.managers._settings import EcologySettings, FieldNames, TaskSettings
from sosw.managers._task_store import TaskStore
from sosw.managers.ecology import EcologyManager
from sosw.managers.meta_handler import MetaHandler
from sosw.managers.task import TaskManager

DELTA = constants.GREENFIELD_INVOCATION_DELTA
NOW = 1_795_392_000
FIELDS = FieldNames()


def task_manager(**config) -> TaskManager:
    """A TaskManager whose every collaborator is a MagicMock: what it asks of them is the subject. Transaction
    items keep DynamoDB's shape (``{'Update': {...}}``), which the store measures against DynamoDB's limits."""
    ddb = MagicMock()
    for kind in ("Put", "Update", "Delete"):
        getattr(ddb, f"make_{kind.lower()}_transaction_item").side_effect = \
            lambda *args, _kind=kind, **kwargs: {_kind: {"Key": {}}}
    return TaskManager({"labourers": {"w": {"max_simultaneous_invocations": 3}}, **config},
                       dynamo_db_client=ddb, lambda_client=MagicMock(), ecology_client=MagicMock(),
                       meta_handler_client=None)


def registered(start: int = NOW) -> Labourer:
    labourer = Labourer(id="w", duration=60, cooldown=30)
    labourer.set_custom_attribute("start", start)
    invoked, expired = rules.run_marks(start, DELTA, 60, 30)
    labourer.set_custom_attribute("invoked", invoked)
    labourer.set_custom_attribute("expired", expired)
    return labourer


def queued(task_id: str, greenfield: int = 2000, attempts: int = 0) -> dict:
    return {"task_id": task_id, "labourer_id": "w", "created_at": 1, "greenfield": greenfield, "attempts": attempts,
            "payload": '{"n": 1}'}


# Settings, parsed at construction -------------------------------------------------------------------------------------


@pytest.mark.parametrize("config, key", [
    ({"greenfield_task_step": "x"}, "task_config.greenfield_task_step"),
    ({"greenfield_invocation_delta": 0}, "task_config.greenfield_invocation_delta"),
    ({"transaction_attempts": 0}, "task_config.transaction_attempts"),
    ({"invoke_threads": True}, "task_config.invoke_threads"),
    ({"max_attempts": "often"}, "task_config.max_attempts"),
    ({"max_attempts_w": -1}, "task_config.max_attempts_w"),
    ({"read_labourer_timeout": "perhaps"}, "task_config.read_labourer_timeout"),
    ({"labourers": ["w"]}, "task_config.labourers"),
    ({"labourers": {"w": {"max_simultaneous_invocations": "ten"}}},
     "task_config.labourers.w.max_simultaneous_invocations"),
    ({"labourers": {"w": {"duration": "60"}}}, "task_config.labourers.w.duration"),
    ({"labourers": {"w": {"cooldown": -5}}}, "task_config.labourers.w.cooldown"),
    ({"labourers": {"w": 5}}, "task_config.labourers.w"),
    ({"labourers": {"w": {"health_metrics": {"cpu": {"feelings": {4: 1}}}}}},
     "task_config.labourers.w.health_metrics.cpu"),
    ({"labourers": {"w": {"health_metrics": {"cpu": {"details": {}, "feelings": {3: 25, 4: 50}}}}}},
     "task_config.labourers.w.health_metrics.cpu.feelings"),
    ({"dynamo_db_config": {"table_name": ""}}, "task_config.dynamo_db_config.table_name"),
    ({"dynamo_db_config": {"field_names": {"task_id": 5}}}, "task_config.dynamo_db_config.field_names.task_id"),
])
def test_a_bad_task_config_value_fails_at_construction_naming_the_key(config, key):
    with pytest.raises(ConfigError) as raised:
        task_manager(**config)
    assert raised.value.config_name == key


def test_an_unknown_feeling_comparison_operator_fails_at_construction():
    metric = {"details": {"MetricName": "cpu"}, "feelings": {3: 50}, "feeling_comparison_operator": "!="}
    with pytest.raises(UnsupportedSetting) as raised:
        task_manager(labourers={"w": {"health_metrics": {"cpu": metric}}})
    assert raised.value.config_name == "task_config.labourers.w.health_metrics.cpu.feeling_comparison_operator"
    assert isinstance(raised.value, AttributeError)  # what sosw 0.7.47 raised


def test_settings_are_frozen_and_accept_what_hand_edited_configs_give():
    settings = TaskSettings.from_config({**TaskManager.DEFAULT_CONFIG, "greenfield_task_step": "500",
                                         "read_labourer_timeout": "false", "max_attempts_w": 7})
    assert settings.greenfield_task_step == 500 and settings.read_labourer_timeout is False
    assert settings.max_attempts_of("w") == 7 and settings.max_attempts_of("other", own=4) == 4
    with pytest.raises(AttributeError):
        settings.greenfield_task_step = 1  # type: ignore[misc]  # frozen: that is the point


def test_field_names_are_a_frozen_mapping():
    fields = FieldNames.from_config({"task_id": "id", "custom": "x"})
    assert (fields.task_id, fields.greenfield, fields.get("custom"), fields.get("other")) == ("id", "greenfield",
                                                                                             "x", "other")
    with pytest.raises(TypeError):
        fields.renamed["task_id"] = "y"  # type: ignore[index]


@pytest.mark.parametrize("config, key", [
    ({"default_metric_values": {"Statistics": ["Median"]}}, "ecology_config.default_metric_values.Statistics"),
    ({"default_metric_values": {"MetricAggregationTimeSlice": "soon"}},
     "ecology_config.default_metric_values.MetricAggregationTimeSlice"),
])
def test_a_bad_ecology_config_value_fails_at_construction(config, key):
    with pytest.raises(ConfigError) as raised:
        EcologyManager(config, cloudwatch_client=MagicMock())
    assert raised.value.config_name == key
    assert EcologySettings.from_config({}).default_metric_values == {}


# The greenfield rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("greenfield, completed, state", [
    (NOW + DELTA, False, "running"),
    (NOW + DELTA - 90, False, "running"),
    (NOW + DELTA - 91, False, "expired"),
    (NOW, False, "expired"),
    (NOW + DELTA - 5000, True, "completed"),
])
def test_state_of_a_task_in_flight(greenfield, completed, state):
    invoked, expired = rules.run_marks(NOW, DELTA, 60, 30)
    assert invoked == NOW + DELTA
    task = {"greenfield": greenfield, **({"completed_at": NOW} if completed else {})}
    assert rules.state_in_flight(FIELDS, task, expired) == state


@pytest.mark.parametrize("function, edge, count, expected", [
    (rules.tail_greenfields, 5000, 3, [6000, 7000, 8000]),
    (rules.head_greenfields, 5000, 3, [2000, 3000, 4000]),
    (rules.tail_greenfields, 5000, 0, []),
])
def test_queue_positions(function, edge, count, expected):
    assert function(edge, 1000, count) == expected


def test_average_duration_counts_each_attempt_of_a_dead_task_at_max_duration():
    done = {"completed_at": NOW + 10, "greenfield": NOW + DELTA}
    dead = {"attempts": 3, "greenfield": NOW + DELTA}
    assert rules.average_duration(FIELDS, [done, dead], max_duration=100, delta=DELTA) == 78
    assert rules.average_duration(FIELDS, [], max_duration=100, delta=DELTA) == 0


def test_invoke_move_is_a_conditional_update_and_its_event():
    move = rules.invoke_move(FIELDS, queued("t1", attempts=2), "w", start=NOW, greenfield=NOW + DELTA)
    update, event = move.actions
    assert isinstance(update, rules.Update) and update.table == rules.TASKS
    assert (update.key, update.values, update.increments) == ({"task_id": "t1"}, {"greenfield": NOW + DELTA},
                                                              {"attempts": 1})
    assert update.condition is not None
    assert event == rules.Event("t1", "invoked", {"labourer_id": "w", "attempt": 3})


def test_archive_move_of_a_completed_task_logs_its_completion():
    task = {**queued("t1"), "completed_at": NOW}
    put, delete, completed, archived = rules.archive_move(FIELDS, task, dead=False, now=NOW + 1).actions
    assert put.item["labourer_id_task_status"] == "w_1" and put.item["closed_at"] == NOW + 1
    assert delete.key == {"task_id": "t1"} and delete.table == rules.TASKS
    assert (completed.action, archived.action) == ("completed", "archived")
    assert rules.archive_move(FIELDS, queued("t2"), dead=True, now=NOW).actions[0].item["labourer_id_task_status"] \
        == "w_0"


# The TaskManager with its collaborators injected ----------------------------------------------------------------------


def test_collaborators_are_plain_assignable_attributes_and_are_used_at_call_time():
    manager = task_manager()
    other = MagicMock()
    other.get_by_key.return_value = None
    manager.dynamo_db_client = other
    assert manager.get_task_by_id("t1") is None
    other.get_by_key.assert_called_once()
    assert manager.ecology_client is not None and manager.meta_handler_client is None


def test_invoke_tasks_is_one_transaction_then_one_invocation_per_task():
    manager = task_manager()
    ddb = manager.dynamo_db_client
    ddb.make_update_transaction_item.side_effect = lambda keys, **kwargs: {"Update": keys}

    invoked = manager.invoke_tasks(registered(), [queued("t1"), queued("t2")])

    assert invoked == ["t1", "t2"]
    ddb.transact_write.assert_called_once_with({"Update": {"task_id": "t1"}}, {"Update": {"task_id": "t2"}})
    payloads = sorted((json.loads(call.kwargs["Payload"]) for call in manager.lambda_client.invoke.call_args_list),
                      key=lambda payload: payload["task_id"])
    assert [(p["task_id"], p["n"], p["sosw_attempt"]["number"]) for p in payloads] == [("t1", 1, 1), ("t2", 1, 1)]
    assert manager.stats["tasks_invoked"] == 2


def test_a_refused_invocation_puts_the_task_back():
    manager = task_manager()
    manager.lambda_client.invoke.return_value = {"StatusCode": 500}

    assert manager.invoke_tasks(registered(), [queued("t1", greenfield=2000)]) == []

    undo = manager.dynamo_db_client.make_update_transaction_item.call_args_list[-1]
    assert undo.kwargs["attributes_to_update"] == {"greenfield": 2000}
    assert undo.kwargs["attributes_to_increment"] == {"attempts": -1}
    assert manager.dynamo_db_client.transact_write.call_count == 2
    assert manager.stats["invocation_failures"] == 1


def test_register_labourers_stamps_the_run_with_the_injected_ecology():
    manager = task_manager(labourers={"w": {}, "v": {"duration": 60, "max_attempts": 5}}, max_attempts_w=2)
    manager.ecology_client.get_max_labourer_duration.return_value = 120
    manager.ecology_client.get_labourer_status.return_value = 2
    manager.now = lambda: NOW  # type: ignore[method-assign]  # a fixed clock

    w, v = manager.register_labourers()

    manager.ecology_client.register_task_manager.assert_called_once_with(manager)
    assert (w.duration, w.get_attr("expired")) == (120, NOW + DELTA - 120 - constants.DEFAULT_COOLDOWN)
    assert (v.duration, v.get_attr("max_duration")) == (60, 120)
    assert (w.get_attr("max_attempts"), v.get_attr("max_attempts")) == (2, 5)
    assert w.get_attr("health") == v.get_attr("health") == 2


def test_default_collaborators_are_built_when_none_is_given():
    manager = TaskManager({"meta_handler_config": {"dynamo_db_config": {"table_name": "my_meta"}}})
    assert manager.ecology_client.task_client is manager
    assert manager.meta_handler_client.table_name == "my_meta"
    assert manager.dynamo_db_client.config["table_name"] == constants.TASKS_TABLE


# The task store ------------------------------------------------------------------------------------------------------


class ConflictingClient:
    """Cancels the first transaction: the action at ``refused`` failed its condition, or (None) a conflict."""

    def __init__(self, refused):
        self.refused = refused
        self.transactions = []

    def make_put_transaction_item(self, row, table_name=None, condition_expression=None):
        return {"Put": {"TableName": table_name, "Item": {"task_id": {"S": row["task_id"]}}}}

    def make_delete_transaction_item(self, row, table_name=None, condition_expression=None):
        return {"Delete": {"TableName": table_name, "Key": {"task_id": {"S": row["task_id"]}}}}

    def transact_write(self, *items):
        self.transactions.append([(request.get("Item") or request["Key"])["task_id"]["S"]
                                  for item in items for request in item.values()])
        if len(self.transactions) == 1:
            reasons = [None] * len(items)
            if self.refused is not None:
                reasons[self.refused] = "ConditionalCheckFailed"
            else:
                reasons[0] = "TransactionConflict"
            raise TransactionCancelled("cancelled", reasons)


@pytest.mark.parametrize("refused, applied, sleeps", [(3, ["a"], 0), (None, ["a", "b"], 1)])
def test_store_leaves_out_refused_moves_and_retries_conflicts(refused, applied, sleeps):
    client, slept, stats = ConflictingClient(refused), [], defaultdict(int)
    store = TaskStore(TaskSettings(), client=lambda: client, meta=lambda: None, stats=stats, sleep=slept.append)
    moves = [rules.retry_table_move(FIELDS, queued(task_id), 10, NOW) for task_id in ("a", "b")]

    assert store.apply(moves) == applied

    assert client.transactions[0] == ["a", "a", "b", "b"]  # the events are left out: the log is off
    assert client.transactions[-1] == [task_id for task_id in applied for _ in range(2)]
    assert len(slept) == sleeps and stats["transaction_conflicts"] == 1


# EcologyManager and MetaHandler -------------------------------------------------------------------------------------


def test_ecology_reads_timeouts_with_its_own_lambda_client_when_given_one():
    lambda_client = MagicMock()
    lambda_client.get_function_configuration.return_value = {"Timeout": 42}
    ecology = EcologyManager(cloudwatch_client=MagicMock(), lambda_client=lambda_client)

    assert ecology.get_max_labourer_duration(Labourer(id="w")) == 42
    lambda_client.get_function_configuration.assert_called_once_with(FunctionName="w")


def test_meta_handler_writes_with_the_injected_client_and_none_when_off():
    ddb = MagicMock()
    MetaHandler(dynamo_db_client=ddb).post("t1", "created", labourer_id="w")
    item = ddb.put.call_args.args[0]
    assert (item["task_id"], item["action"], item["labourer_id"]) == ("t1", "created", "w")
    assert MetaHandler({"write_meta_to_ddb": False}, dynamo_db_client=ddb).dynamo_db_client is None
