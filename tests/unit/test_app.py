"""Processor framework without network: config assembly, components, stats and the Lambda entry point."""

import os
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest

import sosw.app
from sosw.app import LambdaGlobals, Processor, get_lambda_handler

FUNCTION_ARN = "arn:aws:lambda:us-west-2:123456789012:function:my_function"


def _forbid_config_rows(name, test=False):
    raise AssertionError(f"no config row may be read, but {name!r} was")


@pytest.fixture
def no_config_rows(monkeypatch):
    monkeypatch.setattr(sosw.app, "get_config", _forbid_config_rows)


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    """A user's own top-level ``components`` package on sys.path; forgotten after the test."""
    package = tmp_path / "components"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "components" or m.startswith("components.")]:
        monkeypatch.delitem(sys.modules, name)
    yield package
    for name in [m for m in sys.modules if m == "components" or m.startswith("components.")]:
        del sys.modules[name]


class Counter:
    """A component that keeps stats and, optionally, other components."""

    def __init__(self, **stats):
        self.stats = dict(stats)
        self.commits = 0

    def commit(self):
        self.commits += 1


# Config ----------------------------------------------------------------------------------------------------------


def test_config_merge_order_default_then_function_row_then_custom(monkeypatch):
    calls = []

    def fake_get_config(name, test=False):
        calls.append(name)
        return {"b": {"y": 2, "z": 2}, "items": [2, 1], "c": "row", "d": "row"}

    monkeypatch.setattr(sosw.app, "get_config", fake_get_config)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_function")

    class MyProcessor(Processor):
        DEFAULT_CONFIG = {"a": 1, "b": {"x": 1, "y": 1}, "items": [1], "c": "default"}

    processor = MyProcessor(custom_config={"b": {"z": 3}, "items": [3], "d": "custom"})

    assert calls == ["my_function_config"]
    assert processor.config == {
        "a": 1,
        "b": {"x": 1, "y": 2, "z": 3},
        "items": [1, 2, 3],
        "c": "row",
        "d": "custom",
    }
    assert MyProcessor.DEFAULT_CONFIG == {"a": 1, "b": {"x": 1, "y": 1}, "items": [1], "c": "default"}


def test_no_config_row_is_read_without_function_name(no_config_rows):
    class MyProcessor(Processor):
        DEFAULT_CONFIG = {"a": 1}

    assert MyProcessor(custom_config={"b": 2}).config == {"a": 1, "b": 2}


def test_config_row_that_is_not_an_object_is_a_config_error(monkeypatch):
    from sosw.exceptions import ConfigError

    monkeypatch.setattr(sosw.app, "get_config", lambda name, test=False: ["not", "a", "dict"])
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_function")

    with pytest.raises(ConfigError) as err:
        Processor()
    assert err.value.config_name == "my_function_config"



def test_mutating_config_leaves_default_and_custom_config_alone(no_config_rows):
    class MyProcessor(Processor):
        DEFAULT_CONFIG = {"labels": ["a"], "nested": {"ids": [1]}}

    custom = {"items": [1]}
    processor = MyProcessor(custom_config=custom)
    processor.config["labels"].append("changed")
    processor.config["nested"]["ids"].append(2)
    processor.config["items"].append(2)

    assert MyProcessor.DEFAULT_CONFIG == {"labels": ["a"], "nested": {"ids": [1]}}
    assert custom == {"items": [1]}
    assert MyProcessor().config == {"labels": ["a"], "nested": {"ids": [1]}}

# Components ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["DynamoDb", "dynamo_db"])
def test_init_clients_dynamo_db_component(no_config_rows, name):
    from sosw.components.dynamo_db import DynamoDbClient

    config = {"table_name": "autotest_things", "row_mapper": {"id": "S"}, "required_fields": ["id"]}
    processor = Processor(custom_config={"init_clients": [name], "dynamo_db_config": config}, test=True)

    assert isinstance(processor.dynamo_db_client, DynamoDbClient)
    assert processor.dynamo_db_client.config["table_name"] == "autotest_things"
    assert processor.dynamo_db_client.test is True


@pytest.mark.parametrize("name, attribute, service", [
    ("lambda", "lambda_client", "lambda"),
    ("S3", "s3_client", "s3"),
    ("events", "events_client", "events"),
])
def test_init_clients_aws_service_is_a_boto3_client(no_config_rows, name, attribute, service):
    processor = Processor(custom_config={"init_clients": [name]})

    client = getattr(processor, attribute)
    assert client.meta.service_model.service_name == service


def test_user_component_is_found_before_ours_and_gets_its_config(no_config_rows, user_package):
    (user_package / "sns.py").write_text(textwrap.dedent("""
        class SnsManager:
            def __init__(self, config=None, test=False):
                self.config = config
                self.test = test
    """))
    (user_package / "widget.py").write_text(textwrap.dedent("""
        class WidgetClient:
            def __init__(self, config=None):
                self.config = config
    """))

    processor = Processor(custom_config={
        "init_clients": ["Sns", "Widget"],
        "sns_config": {"recipient": "arn:aws:sns:us-west-2:123456789012:mine"},
        "widget_config": {"size": 3},
    }, test=True)

    assert type(processor.sns_client).__module__ == "components.sns"
    assert processor.sns_client.config == {"recipient": "arn:aws:sns:us-west-2:123456789012:mine"}
    assert processor.sns_client.test is True
    assert type(processor.widget_client).__module__ == "components.widget"
    assert processor.widget_client.config == {"size": 3}



def test_user_component_taking_only_kwargs_gets_its_config(no_config_rows, user_package):
    """Components written like the original sosw ones, ``__init__(self, **kwargs)``, read ``kwargs['config']``."""
    (user_package / "thing.py").write_text(textwrap.dedent("""
        class ThingClient:
            def __init__(self, **kwargs):
                self.config = kwargs.get('config') or kwargs.get('custom_config')
                self.test = kwargs.get('test')
    """))

    processor = Processor(custom_config={"init_clients": ["Thing"], "thing_config": {"size": 3}}, test=True)

    assert processor.thing_client.config == {"size": 3}
    assert processor.thing_client.test is True

def test_processor_component_takes_config_from_parent_without_reading_rows(monkeypatch, user_package):
    (user_package / "helper.py").write_text(textwrap.dedent("""
        from sosw.app import Processor

        class HelperManager(Processor):
            DEFAULT_CONFIG = {'depth': 1, 'tags': ['default']}
    """))
    calls = []

    def fake_get_config(name, test=False):
        calls.append(name)
        return {}

    monkeypatch.setattr(sosw.app, "get_config", fake_get_config)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_function")

    processor = Processor(custom_config={"init_clients": ["Helper"], "helper_config": {"tags": ["custom"]}})

    assert calls == ["my_function_config"]  # the parent's row only
    assert processor.helper_client.config == {"depth": 1, "tags": ["default", "custom"]}


def test_ours_are_used_when_the_user_has_no_such_component(no_config_rows, user_package):
    from sosw.components.sns import SnsManager

    processor = Processor(custom_config={
        "init_clients": ["Sns"], "sns_config": {"recipient": "arn:aws:sns:us-west-2:123456789012:t", "subject": "s"},
    })

    assert isinstance(processor.sns_client, SnsManager)
    assert processor.sns_client.recipient == "arn:aws:sns:us-west-2:123456789012:t"
    assert processor.sns_client.subject == "s"


# Stats -----------------------------------------------------------------------------------------------------------


def test_get_stats_merges_components_each_once(no_config_rows):
    processor = Processor()
    processor.stats["calls"] += 2
    shared = Counter(calls=3, rows=10)
    processor.a_client = shared
    processor.b_client = shared  # the same component twice must not count twice
    processor.c_client = Counter(rows=5)
    processor.c_client.d_client = Counter(deep=1)
    processor.c_client.e_client = shared

    stats = processor.get_stats()

    assert dict(stats) == {"calls": 5, "rows": 15, "deep": 1}
    assert dict(processor.get_stats(recursive=False)) == {"calls": 2}


def test_reset_stats_moves_values_into_totals_and_keeps_lifetime_params(no_config_rows):
    class MyProcessor(Processor):
        lifetime_stats_params = ["containers"]

    processor = MyProcessor()
    processor.stats.update({"calls": 2, "total_calls": 5, "containers": 1, "label": "x"})
    component = Counter(rows=3)
    processor.x_client = component

    processor.reset_stats()

    assert dict(processor.stats) == {"total_calls": 7, "containers": 1}
    assert component.stats == {"total_rows": 3}

    processor.stats["calls"] += 1
    processor.reset_stats()
    assert dict(processor.stats) == {"total_calls": 8, "containers": 1}


# Lambda handler --------------------------------------------------------------------------------------------------


def test_lambda_handler_creates_processor_once_and_resets_stats(no_config_rows):
    created = []

    class MyProcessor(Processor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            created.append(self)
            self.notifier_client = Counter()

        def __call__(self, event):
            self.stats["events"] += 1
            return {"echo": event["n"], "context": global_vars.lambda_context.aws_request_id}

    global_vars = LambdaGlobals()
    handler = get_lambda_handler(MyProcessor, global_vars, custom_config={"x": 1})
    first = SimpleNamespace(aws_request_id="r1", invoked_function_arn=FUNCTION_ARN)
    second = SimpleNamespace(aws_request_id="r2", invoked_function_arn=FUNCTION_ARN)

    assert handler({"n": 1}, first) == {"echo": 1, "context": "r1"}
    assert handler({"n": 2}, second) == {"echo": 2, "context": "r2"}

    assert len(created) == 1
    processor = created[0]
    assert global_vars.processor is processor
    assert global_vars.lambda_context is second
    assert sosw.app.global_vars.lambda_context is second
    assert processor.config["x"] == 1
    assert processor.notifier_client.commits == 2  # flushed after each call
    assert dict(processor.stats) == {"total_events": 2}


def test_lambda_handler_flushes_and_resets_when_processor_raises(no_config_rows):
    class Failing(Processor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.notifier_client = Counter()

        def __call__(self, event):
            self.stats["attempts"] += 1
            raise KeyError("boom")

    global_vars = LambdaGlobals()
    handler = get_lambda_handler(Failing, global_vars)

    with pytest.raises(KeyError):
        handler({}, SimpleNamespace(invoked_function_arn=FUNCTION_ARN))

    assert global_vars.processor.notifier_client.commits == 1
    assert dict(global_vars.processor.stats) == {"total_attempts": 1}


def test_flush_survives_a_failing_commit(no_config_rows, caplog):
    class Broken:
        def commit(self):
            raise RuntimeError("SNS is down")

    processor = Processor()
    processor.broken_client = Broken()
    processor.ok_client = Counter()

    processor.flush()

    assert processor.ok_client.commits == 1
    assert "commit of Broken failed" in caplog.text


def test_account_and_region_come_from_the_context_arn(no_config_rows, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    context = SimpleNamespace(invoked_function_arn="arn:aws:lambda:eu-west-1:210987654321:function:f:prod")

    processor = Processor(lambda_context=context)

    assert processor._account == "210987654321"
    assert processor._region == "eu-west-1"


# Import ----------------------------------------------------------------------------------------------------------


def test_import_makes_no_aws_call_and_needs_no_credentials():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    code = textwrap.dedent("""
        import botocore.endpoint

        def refuse(self, *args, **kwargs):
            raise SystemExit('an AWS request was made at import time')

        botocore.endpoint.Endpoint.make_request = refuse
        import sosw, sosw.app, sosw.components.config, sosw.components.sns, sosw.components.siblings
        print('ok')
    """)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert time.monotonic() - started < 10
