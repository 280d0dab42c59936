"""COMPAT.md "Processor, app, Worker": the Processor framework as users of sosw 0.7.47 use it in their tests."""

import logging
from collections import defaultdict
from types import SimpleNamespace
from unittest.mock import MagicMock, patch

import boto3
import pytest

import sosw.app
from sosw import Essential, Processor, Worker
from sosw.app import LambdaGlobals, get_lambda_handler

CONTEXT = SimpleNamespace(invoked_function_arn="arn:aws:lambda:us-west-2:123456789012:function:my_function",
                          aws_request_id="req-1", function_name="my_function", log_stream_name="2026/11/26/abc")


@pytest.fixture(autouse=True)
def no_config_rows():
    with patch("sosw.app.get_config", return_value={}) as get_config:
        yield get_config


@pytest.fixture(autouse=True)
def fresh_globals():
    yield
    sosw.app.global_vars.processor = None
    sosw.app.global_vars.lambda_context = None


def test_call_counts_processor_calls_and_resets_result():
    processor = Processor()
    processor.result["rows"] += 3

    processor("event", reset_result=False)
    assert processor.result == {"rows": 3}
    processor("event")

    assert processor.stats["processor_calls"] == 2
    assert isinstance(processor.result, defaultdict) and processor.result == {}
    processor.result["new"] += 1  # a defaultdict(int), as users' code expects


def test_pre_call_resets_result_and_stats():
    processor = Processor()
    processor.result["rows"] = 1
    processor.stats["calls"] += 2

    processor.__pre_call__()

    assert processor.result == {}
    assert processor.stats["total_calls"] == 2 and "calls" not in processor.stats


def test_worker_call_takes_reset_result_and_resets_after_reporting():
    with patch("boto3.client") as client:
        worker = Worker()
    worker.result["rows"] += 5

    worker({"task_id": "t1"})

    payload = client.return_value.invoke.call_args.kwargs["Payload"]
    assert b'"rows": 5' in payload
    assert worker.result == {} and worker.stats["processor_calls"] == 1


def test_worker_survives_a_failing_worker_assistant_call():
    worker = Worker()
    worker.lambda_client = MagicMock()
    worker.lambda_client.invoke.side_effect = RuntimeError("throttled")

    worker({"task_id": "t1"})  # the original logged it; the task then expires and is retried

    assert worker.stats["worker_assistant_failures"] == 1


def test_worker_with_meta_handler_config_posts_completed_events():
    worker = Worker(custom_config={"meta_handler_config": {"dynamo_db_config": {"table_name": "sosw_tasks_meta"}}})
    worker.lambda_client = MagicMock()
    worker.meta_handler = MagicMock()

    worker({"task_id": "t1"})

    worker.meta_handler.post.assert_called_once_with(task_id="t1", action="completed")


def test_die_exits_with_code_1_past_except_exception(monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    processor = Processor(custom_config={"dead_sns_topic": "my_alarms"})
    processor.aws_account = "123456789012"
    processor.aws_region = "us-west-2"

    with patch("boto3.client") as client, pytest.raises(SystemExit) as exit_info:
        try:
            processor.die("out of memory")
        except Exception:  # a user's broad handler must not swallow it
            pytest.fail("die() was swallowed by except Exception")

    assert exit_info.value.code == 1
    publish = client.return_value.publish.call_args.kwargs
    assert publish["TopicArn"] == "arn:aws:sns:us-west-2:123456789012:my_alarms"
    assert publish["Subject"] == "Some Function died"
    assert publish["Message"].startswith("out of memory")


@pytest.mark.parametrize("region, partition", [("us-west-2", "aws"), ("cn-north-1", "aws-cn"),
                                               ("us-gov-west-1", "aws-us-gov")])
def test_die_builds_the_topic_arn_in_the_region_partition(region, partition):
    processor = Processor()
    processor.aws_account, processor.aws_region = "123456789012", region

    with patch("boto3.client") as client, pytest.raises(SystemExit):
        processor.die("bad")

    assert client.return_value.publish.call_args.kwargs["TopicArn"] == \
        f"arn:{partition}:sns:{region}:123456789012:SoswWorkerErrors"


def test_die_subject_names_the_function(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_worker")
    processor = Processor()
    processor.aws_account, processor.aws_region = "123456789012", "us-west-2"

    with patch("boto3.client") as client, pytest.raises(SystemExit):
        processor.die("bad")

    assert client.return_value.publish.call_args.kwargs["Subject"] == "my_worker died"


def test_missing_config_table_gives_an_empty_config(aws, monkeypatch, no_config_rows):
    """No ``config`` table on the (moto) account: the Processor is built from its defaults, as in the original."""
    no_config_rows.side_effect = sosw.components.config.get_config
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_function")

    processor = Processor(custom_config={"a": 1})

    assert processor.config == {"a": 1}


def test_get_ddbc_reads_prefix_dynamo_db_config_and_caches_the_client():
    processor = Processor(custom_config={
        "results_dynamo_db_config": {"table_name": "results", "row_mapper": {"id": "S"}},
        "other_dynamo_db_config": {"table_name": "other"},
    })

    client = processor.get_ddbc("results")

    assert client is processor.results_dynamo_db_client is processor.get_ddbc("results")
    assert client.config["table_name"] == "results"
    assert sorted(processor.ddb_names) == ["other", "results"]


def test_get_ddbc_builds_through_the_patchable_sosw_app_dynamodbclient():
    processor = Processor(custom_config={"results_dynamo_db_config": {"table_name": "results"}})

    with patch("sosw.app.DynamoDbClient") as client_class:
        client = processor.get_ddbc("results")

    client_class.assert_called_once_with(config={"table_name": "results"})
    assert client is client_class.return_value


def test_sosw_app_re_exports_the_helpers():
    from sosw.app import recursive_update, trim_arn_to_name

    assert recursive_update({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}
    assert trim_arn_to_name("arn:aws:lambda:us-west-2:000000000000:function:bar") == "bar"


def test_get_ddbc_unknown_prefix_is_a_value_error_naming_the_supported_ones():
    processor = Processor(custom_config={"results_dynamo_db_config": {"table_name": "results"}})

    with pytest.raises(ValueError, match=r"\['results'\]"):
        processor.get_ddbc("missing")


def test_register_clients_and_init_config_are_public():
    processor = Processor()
    with patch("boto3.client") as client:
        processor.register_clients(clients=["s3"])
    assert processor.s3_client is client.return_value

    processor.init_config(custom_config={"x": 1})
    assert processor.config == {"x": 1}


def test_init_config_can_be_overridden():
    class Custom(Processor):
        def init_config(self, custom_config=None):
            self.config = {"from": "override"}

    assert Custom(custom_config={"ignored": True}).config == {"from": "override"}


def test_clients_made_in_init_are_mocks_under_patch_boto3_client():
    class MyProcessor(Processor):
        DEFAULT_CONFIG = {"init_clients": ["lambda", "s3"]}

    with patch("boto3.client") as client:
        processor = MyProcessor()

    assert processor.lambda_client is client.return_value and processor.s3_client is client.return_value


def test_aws_region_account_and_lambda_context_attributes(monkeypatch):
    processor = Processor()
    processor.aws_region = "eu-west-1"
    processor.aws_account = "000011112222"

    assert processor._region == "eu-west-1" and processor._account == "000011112222"
    assert Processor.lambda_context is None and Processor.aws_account is None


def test_account_is_read_from_the_global_context_at_construction():
    sosw.app.global_vars.lambda_context = CONTEXT

    assert Processor().aws_account == "123456789012"


def test_lambda_globals_share_one_state_and_a_new_one_resets_the_context():
    first = LambdaGlobals()
    first.lambda_context = CONTEXT

    assert sosw.app.global_vars.lambda_context is CONTEXT
    second = LambdaGlobals()
    assert first.lambda_context is None and sosw.app.global_vars.lambda_context is None
    second.processor = "p"
    assert first.processor == "p"


def test_handler_keeps_the_processor_in_global_vars_and_the_context_everywhere():
    import sosw.scheduler

    global_vars = LambdaGlobals()
    seen = []

    class MyProcessor(Processor):
        def __call__(self, event):
            seen.append(sosw.app.global_vars.lambda_context)
            return {"ok": event["n"]}

    handler = get_lambda_handler(MyProcessor, global_vars)

    assert handler({"n": 1}, CONTEXT) == {"ok": 1}
    assert seen == [CONTEXT]
    assert isinstance(global_vars.processor, MyProcessor)
    assert sosw.scheduler.global_vars.lambda_context is CONTEXT


def test_handler_honours_logging_level():
    root = logging.getLogger()
    before = root.level
    try:
        handler = get_lambda_handler(Processor, LambdaGlobals())
        handler({"logging_level": "DEBUG"}, CONTEXT)
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(before)


def test_essentials_write_the_event_log_by_default():
    essential = Essential(custom_config={"task_config": {}})

    assert essential.config["task_config"]["meta_handler_config"]
    assert Essential.meta_handler is None  # the attribute exists on the class, set per instance


def test_essential_event_log_turned_off_by_write_meta_to_ddb_false():
    essential = Essential(custom_config={"task_config": {}, "meta_handler_config": {"write_meta_to_ddb": False}})

    assert "meta_handler_config" not in essential.config["task_config"]


def test_essential_top_level_meta_handler_config_reaches_the_task_manager(aws):
    boto3.client("dynamodb")  # the moto server is up; nothing is read here
    essential = Essential(custom_config={
        "init_clients": ["Task"],
        "task_config": {"read_labourer_timeout": False},
        "meta_handler_config": {"dynamo_db_config": {"table_name": "my_meta"}},
    })

    assert essential.meta_handler is not None
    assert essential.meta_handler is essential.task_client.meta_handler_client
    assert essential.meta_handler.config["dynamo_db_config"]["table_name"] == "my_meta"


@pytest.mark.parametrize("name", ["Orchestrator", "Scavenger", "Scheduler", "WorkerAssistant"])
def test_get_db_field_name_on_every_essential(name):
    import sosw

    config = {"task_config": {"dynamo_db_config": {"field_names": {"task_id": "id"}}}}
    with patch("boto3.client"):
        essential = getattr(sosw, name)(custom_config=config)

    assert essential.get_db_field_name("task_id") == "id"
    assert essential.get_db_field_name("labourer_id") == "labourer_id"
