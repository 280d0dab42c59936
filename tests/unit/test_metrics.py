"""CloudWatch EMF lines and structured stats logs, without any network: what is printed (capsys) and logged (caplog),
and that the Essentials learn their counts from the calls they make anyway (stand-ins that record every call)."""

import io
import json
import logging
from decimal import Decimal
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest

from sosw.app import Processor, get_lambda_handler
from sosw.components import metrics
from sosw.components.metrics import EmfMetrics, MetricsSettings, emit_counts, log_stats, stats_record
from sosw.exceptions import ConfigError, InvalidArgument
from sosw.labourer import Labourer
from sosw.orchestrator import Orchestrator
from sosw.scavenger import Scavenger
from sosw.worker_assistant import MAX_REPORT_BYTES, WorkerAssistant
from tests.unit.essentials_offline import offline

NOW = 1_764_000_000.25  # seconds; the lines say 1764000000250 ms


def printed(capsys):
    """The EMF documents printed to stdout since the last call, parsed."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def emf(labourer_id, namespace="sosw", **counts):
    """The document that CloudWatch expects for these counts."""
    return {"_aws": {"Timestamp": 1764000000250, "CloudWatchMetrics": [{
        "Namespace": namespace, "Dimensions": [["Labourer"]],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in counts]}]},
        "Labourer": labourer_id, **counts}


# The writer -----------------------------------------------------------------------------------------------------


def test_one_line_per_labourer_with_the_counts_added_up_in_the_order_first_added(capsys):
    writer = EmfMetrics(clock=lambda: NOW)
    writer.add("w1", Invoked=2)
    writer.add("w2", Invoked=0)
    writer.add("w1", Invoked=3, Running=5)

    lines = writer.flush()

    assert printed(capsys) == [emf("w1", Invoked=5, Running=5), emf("w2", Invoked=0)]
    assert [json.loads(line) for line in lines] == [emf("w1", Invoked=5, Running=5), emf("w2", Invoked=0)]
    assert all("\n" not in line and " " not in line for line in lines)  # one compact line each


def test_a_flush_starts_afresh_and_a_labourer_with_nothing_added_prints_nothing(capsys):
    writer = EmfMetrics(clock=lambda: NOW)
    writer.add("w1", Dead=1)
    writer.flush()
    capsys.readouterr()
    writer.add("w2")

    assert writer.flush() == []
    assert capsys.readouterr().out == ""


def test_the_namespace_comes_from_the_config_and_lines_can_go_to_another_stream():
    stream = io.StringIO()
    writer = EmfMetrics.from_config({"metrics_namespace": "my_app/sosw"}, "sosw_scavenger_config", stream=stream,
                                    clock=lambda: NOW)
    writer.add(42, Completed=1)
    writer.flush()

    assert json.loads(stream.getvalue()) == emf("42", namespace="my_app/sosw", Completed=1)


@pytest.mark.parametrize("value", ["false", False, 0, "no"])
def test_metrics_false_keeps_and_prints_nothing(capsys, value):
    writer = EmfMetrics.from_config({"metrics": value}, "sosw_orchestrator_config")
    writer.add("w1", Invoked=3)

    assert writer.flush() == []
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("config, key", [
    ({"metrics": "maybe"}, "sosw_orchestrator_config.metrics"),
    ({"metrics_namespace": "AWS/Lambda"}, "sosw_orchestrator_config.metrics_namespace"),
    ({"metrics_namespace": "a" * 256}, "sosw_orchestrator_config.metrics_namespace"),
    ({"metrics_namespace": "my{app}"}, "sosw_orchestrator_config.metrics_namespace"),
    ({"metrics_namespace": ""}, "sosw_orchestrator_config.metrics_namespace"),
])
def test_a_bad_metrics_setting_is_refused_naming_the_row_and_key(config, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        MetricsSettings.from_config(config, "sosw_orchestrator_config")


@pytest.mark.parametrize("counts", [{"Invoked": -1}, {"Invoked": 1.5}, {"Invoked": True}, {"Labourer": 1},
                                    {"_aws": 1}])
def test_counts_are_whole_numbers_under_names_that_are_no_keys_of_the_document(counts):
    with pytest.raises(InvalidArgument):
        EmfMetrics().add("w1", **counts)


def test_the_metric_names_are_those_the_dashboard_reads():
    assert metrics.METRIC_NAMES == ("Queued", "Running", "Invoked", "Completed", "Expired", "Retried", "Dead")
    assert (metrics.NAMESPACE, metrics.DIMENSION, metrics.UNIT) == ("sosw", "Labourer", "Count")


def test_emit_counts_leaves_out_an_unknown_labourer(capsys, monkeypatch):
    monkeypatch.setattr(metrics, "_now", lambda: NOW)

    emit_counts({}, {None: {"Queued": 3}, "w1": {"Queued": 36}}, "sosw_scheduler_config")

    assert printed(capsys) == [emf("w1", Queued=36)]


@pytest.mark.parametrize("config, counts", [({"metrics": "maybe"}, {"w1": {"Queued": 1}}),
                                            ({}, {"w1": {"Queued": MagicMock()}})])
def test_emit_counts_logs_what_is_wrong_and_prints_nothing_instead_of_failing_the_work(capsys, caplog, config,
                                                                                       counts):
    with caplog.at_level(logging.ERROR, logger="sosw.components.metrics"):
        assert emit_counts(config, counts, "sosw_scheduler_config") == []

    assert capsys.readouterr().out == ""
    assert "no metrics printed" in caplog.text


# Structured stats -----------------------------------------------------------------------------------------------


def test_stats_record_holds_json_values():
    record = stats_record({"calls": Decimal("3"), "share": Decimal("0.5"), "time_run": 0.25,
                           "odd": float("nan"), "when": object}, function="sosw_scavenger")

    assert record["message"] == "stats" and record["function"] == "sosw_scavenger"
    assert record["stats"]["calls"] == 3 and record["stats"]["share"] == 0.5 and record["stats"]["time_run"] == 0.25
    assert record["stats"]["odd"] == "nan" and isinstance(record["stats"]["when"], str)
    json.dumps(record, allow_nan=False)


class LambdaJsonFormatter(logging.Formatter):
    """What Lambda's JSON log format (and, alike, Powertools' Logger) does with a record: the message, plus every
    ``extra`` attribute as a key of its own."""

    STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record):
        extras = {k: v for k, v in vars(record).items() if k not in self.STANDARD}
        return json.dumps({"level": record.levelname, "message": record.getMessage(), **extras})


def test_log_stats_gives_a_json_message_and_the_keys_as_extra(caplog):
    log = logging.getLogger("tests.metrics.stats")
    with caplog.at_level(logging.INFO, logger=log.name):
        log_stats(log, {"tasks_invoked": 3}, function="sosw_orchestrator")

    (record,) = caplog.records
    assert json.loads(record.getMessage()) == {"message": "stats", "function": "sosw_orchestrator",
                                               "stats": {"tasks_invoked": 3}}
    formatted = json.loads(LambdaJsonFormatter().format(record))
    assert formatted["function"] == "sosw_orchestrator" and formatted["stats"] == {"tasks_invoked": 3}


class Counting(Processor):
    DEFAULT_CONFIG = {"init_clients": []}

    def __call__(self, event, reset_result=True):
        self.stats["events_seen"] += 1
        return super().__call__(event, reset_result=reset_result)


def test_the_lambda_handler_logs_one_structured_stats_record_per_invocation(caplog):
    handler = get_lambda_handler(Counting)
    context = SimpleNamespace(function_name="my_function", invoked_function_arn=None)

    with caplog.at_level(logging.INFO, logger="sosw.app"):
        handler({}, context)
        handler({}, context)

    first, second = [json.loads(r.getMessage()) for r in caplog.records if r.name == "sosw.app"]
    assert first == {"message": "stats", "function": "my_function", "stats": {"events_seen": 1, "processor_calls": 1}}
    assert second["stats"] == {"events_seen": 1, "processor_calls": 1, "total_events_seen": 1,
                               "total_processor_calls": 1}
    assert caplog.records[-1].stats == second["stats"] and caplog.records[-1].function == "my_function"


# The Essentials -------------------------------------------------------------------------------------------------


class Recorder:
    """Records every call made of it, by method name; answers from ``answers`` (a value or a function)."""

    def __init__(self, **answers):
        self.calls = []
        self._answers = answers

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args, **kwargs):
            self.calls.append(name)
            answer = self._answers[name]
            return answer(*args, **kwargs) if callable(answer) else answer

        return method


def registered(name, health=4, limit=10):
    labourer = Labourer(id=name, max_simultaneous_invocations=limit)
    labourer.set_custom_attribute("health", health)
    return labourer


@pytest.fixture
def function_name(monkeypatch):
    def set_name(name):
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", name)
    return set_name


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(metrics, "_now", lambda: NOW)


def test_the_orchestrator_prints_invoked_and_running_from_the_calls_it_makes_anyway(capsys, clock):
    ecology = Recorder(count_running_tasks_for_labourer=lambda labourer: {"busy": 2, "idle": 0}[labourer.id],
                       add_running_tasks_for_labourer=None, get_async_retry_attempts=0)
    task_client = Recorder(
        register_labourers=[registered("busy", limit=5), registered("idle"), registered("sick", health=0)],
        get_next_for_labourer=lambda labourer, cnt: [{"task_id": f"{labourer.id}{i}"} for i in range(min(cnt, 4))],
        invoke_tasks=lambda labourer, tasks: [t["task_id"] for t in tasks])
    task_client.ecology_client = ecology
    orchestrator = offline(Orchestrator)()
    orchestrator.task_client = task_client

    assert orchestrator({}) == {"busy": 3, "idle": 4, "sick": 0}

    # busy: 5 - 2 running = 3 invoked, 5 running after; idle: 4 queued, all invoked; sick: health 0 needs no count.
    assert printed(capsys) == [emf("busy", Invoked=3, Running=5), emf("idle", Invoked=4, Running=4),
                               emf("sick", Invoked=0)]
    assert task_client.calls == ["register_labourers", "get_next_for_labourer", "invoke_tasks",
                                 "get_next_for_labourer", "invoke_tasks"]
    checked = "get_async_retry_attempts"  # once per Labourer and container
    assert ecology.calls == [checked, "count_running_tasks_for_labourer", "add_running_tasks_for_labourer"] * 2 \
        + [checked]


def test_the_orchestrator_prints_no_line_for_a_labourer_whose_run_failed(capsys, clock):
    def invoke(labourer, tasks):
        if labourer.id == "down":
            raise RuntimeError("Lambda is down")
        return [t["task_id"] for t in tasks]

    task_client = Recorder(register_labourers=[registered("down"), registered("up", limit=1)],
                           get_next_for_labourer=lambda labourer, cnt: [{"task_id": "t"}], invoke_tasks=invoke)
    task_client.ecology_client = Recorder(count_running_tasks_for_labourer=0, add_running_tasks_for_labourer=None,
                                          get_async_retry_attempts=0)
    orchestrator = offline(Orchestrator)()
    orchestrator.task_client = task_client

    with pytest.raises(RuntimeError, match="down"):  # after the other Labourers were orchestrated
        orchestrator({})

    assert printed(capsys) == [emf("up", Invoked=1, Running=1)]
    assert orchestrator.stats["labourer_failures"] == 1


def test_metrics_false_in_the_orchestrators_row_turns_its_lines_off(capsys, function_name):
    function_name("sosw_orchestrator")
    orchestrator = offline(Orchestrator, rows={"sosw_orchestrator_config": {"metrics": False}})()
    task_client = Recorder(register_labourers=[registered("w")], get_next_for_labourer=[],
                           invoke_tasks=lambda labourer, tasks: [])
    task_client.ecology_client = Recorder(count_running_tasks_for_labourer=0, add_running_tasks_for_labourer=None,
                                          get_async_retry_attempts=0)
    orchestrator.task_client = task_client

    orchestrator({})

    assert capsys.readouterr().out == ""


def test_a_bad_metrics_setting_fails_building_the_essential(function_name):
    function_name("sosw_scavenger")
    with pytest.raises(ConfigError, match=r"sosw_scavenger_config\.metrics:"):
        offline(Scavenger, rows={"sosw_scavenger_config": {"metrics": "maybe"}})()


def test_the_scavenger_prints_what_its_moves_did_per_labourer(capsys, clock):
    fields = {"task_id": "task_id", "attempts": "attempts"}
    in_flight = {
        "w1": {"completed": [{"task_id": "c1"}, {"task_id": "c2"}], "running": [],
               # e1 has attempts left, e2 is out of them, e3 too but another Scavenger closed it first.
               "expired": [{"task_id": "e1", "attempts": 1}, {"task_id": "e2", "attempts": 3},
                           {"task_id": "e3", "attempts": 3}]},
        "w2": {"completed": [], "running": [], "expired": []},
    }
    labourers = [Labourer(id="w1"), Labourer(id="w2")]
    for labourer in labourers:
        labourer.set_custom_attribute("max_attempts", 3)
        labourer.set_custom_attribute("max_duration", 60)
    task_client = Recorder(
        register_labourers=labourers,
        get_db_field_name=lambda key: fields.get(key, key),
        get_tasks_in_flight_for_labourer=lambda labourer: in_flight[labourer.id],
        move_tasks_to_retry_table=lambda pairs: [task["task_id"] for task, _delay in pairs],
        archive_many=lambda tasks, dead=False: [t["task_id"] for t in tasks if t["task_id"] != "e3"],
        get_tasks_to_retry_for_labourer=lambda labourer, limit: [{"task_id": "r1"}] if labourer.id == "w1" else [],
        retry_tasks=lambda labourer, tasks: [t["task_id"] for t in tasks])
    scavenger = offline(Scavenger)()
    scavenger.task_client = task_client
    scavenger.sns_client = MagicMock(recipient="arn:aws:sns:us-west-2:000000000000:Dead")

    scavenger()

    assert printed(capsys) == [emf("w1", Completed=2, Expired=2, Retried=1, Dead=1),
                               emf("w2", Completed=0, Expired=0, Retried=0, Dead=0)]
    assert task_client.calls.count("register_labourers") == 1
    assert task_client.calls.count("get_tasks_in_flight_for_labourer") == 2  # one query per Labourer, as before


def test_the_scavenger_prints_what_was_moved_before_a_failure(capsys, clock):
    def archive_many(tasks, dead=False):
        return [t["task_id"] for t in tasks]

    def broken(labourer, limit):
        raise RuntimeError("throttled")

    task_client = Recorder(register_labourers=[Labourer(id="w1")], get_db_field_name=lambda key: key,
                           get_tasks_in_flight_for_labourer={"completed": [{"task_id": "c1"}], "expired": [],
                                                             "running": []},
                           archive_many=archive_many, get_tasks_to_retry_for_labourer=broken)
    scavenger = offline(Scavenger)()
    scavenger.task_client = task_client
    scavenger.sns_client = None

    with pytest.raises(RuntimeError, match="throttled"):
        scavenger()

    assert printed(capsys) == [emf("w1", Completed=1, Expired=0, Retried=0, Dead=0)]
    assert scavenger.stats["labourer_failures"] == 1


# The WorkerAssistant's reports ----------------------------------------------------------------------------------


def assistant_with(task_client):
    assistant = offline(WorkerAssistant)()
    assistant.task_client = task_client
    return assistant


def test_the_report_limit_leaves_room_for_the_largest_payload_in_a_dynamodb_item():
    assert MAX_REPORT_BYTES == 400 * 1024 - 350_000 - 9_600 == 50_000


def test_a_report_within_the_limit_is_passed_on_as_it_is(capsys):
    task_client = Recorder()
    calls = []
    task_client.report_task = lambda *args, **kwargs: calls.append((args, kwargs)) or "completed"
    result = {"rows": "x" * (MAX_REPORT_BYTES - 100)}

    assistant_with(task_client)({"action": "mark_task_as_completed", "task_id": "t1", "stats": {"n": 1},
                                 "result": result})

    assert calls == [(("t1", "completed"), {"stats": {"n": 1}, "result": result})]
    assert capsys.readouterr().out == ""  # the WorkerAssistant prints no EMF line: it does not know the Labourer


@pytest.mark.parametrize("big, small", [("result", "stats"), ("stats", "result")])
def test_the_larger_field_of_an_oversized_report_becomes_a_marker(caplog, big, small):
    calls = []
    task_client = Recorder()
    task_client.report_task = lambda task_id, outcome, stats, result: calls.append(
        {"stats": stats, "result": result}) or outcome
    huge = {"text": "é" * 300_000}
    assistant = assistant_with(task_client)

    with caplog.at_level(logging.WARNING, logger="sosw.worker_assistant"):
        status = assistant({"action": "mark_task_as_failed", "task_id": "t1", big: huge, small: {"n": 1}})

    assert status == {"task_id": "t1", "status": "failed"}
    marker = calls[0][big]["truncated"]
    assert marker["bytes"] == len(("stat_" if big == "stats" else "result_") + "text") + 2 + 600_000
    assert marker["limit"] == MAX_REPORT_BYTES and marker["head"] == json.dumps(huge, ensure_ascii=False)[:1000]
    assert calls[0][small] == {"n": 1}
    assert assistant.stats[f"truncated_{big}"] == 1 and f"truncated_{small}" not in assistant.stats
    assert f"its {big} takes" in caplog.text and "t1" in caplog.text


def test_both_fields_become_markers_when_each_is_too_large():
    calls = []
    task_client = Recorder()
    task_client.report_task = lambda task_id, outcome, stats, result: calls.append((stats, result)) or outcome
    assistant = assistant_with(task_client)

    assistant.mark_task_as_completed("t1", stats={"a": "x" * 55_000}, result={"b": "y" * 60_000})

    stats, result = calls[0]
    assert set(stats) == {"truncated"} and set(result) == {"truncated"}
    assert assistant.stats["truncated_result"] == 1 and assistant.stats["truncated_stats"] == 1
