"""COMPAT.md "Essentials → Scheduler" / api.json ``sosw.scheduler``: the Scheduler as users of sosw 0.7.47 test it —
built under ``patch('boto3.client')`` with ``sosw.app.get_config`` patched, MagicMocks assigned to its ``*_client``
attributes, ``sosw.scheduler.datetime`` patched to pin today, and the moto server with the original's tables where
tasks are written."""

import datetime
import inspect
import json
import os
import types
from unittest.mock import MagicMock, patch

import boto3
import pytest

import sosw.app
import sosw.scheduler as module
from sosw.labourer import Labourer
from sosw.scheduler import Scheduler

LABOURER = "some_function"
ARN = f"arn:aws:lambda:us-west-2:000000000000:function:{LABOURER}"
LABOURERS = {LABOURER: {"arn": ARN, "max_simultaneous_invocations": 10}}
TODAY = datetime.date(2019, 1, 30)

TEST_CONFIG = {
    "queue_bucket": "autotest-bucket",
    "task_config": {"labourers": LABOURERS},
    "job_schema": {"chunkable_attrs": [("section", {}), ("store", {}), ("product", {})]},
}


@pytest.fixture(autouse=True)
def no_config_rows():
    with patch("sosw.app.get_config", return_value={}) as get_config:
        yield get_config


@pytest.fixture(autouse=True)
def lambda_context():
    """As the original's tests set it: on the module's ``global_vars``, with 5 minutes left."""
    context = types.SimpleNamespace(aws_request_id="AWS_REQ_ID", invoked_function_arn=ARN,
                                    get_remaining_time_in_millis=MagicMock(return_value=300000))
    sosw.app.global_vars.lambda_context = context
    yield context
    sosw.app.global_vars.lambda_context = None


def make(config=None, scheduler_class=Scheduler) -> Scheduler:
    """As users build it: real clients under a patched ``boto3.client``, then MagicMock clients."""
    with patch("boto3.client"):
        scheduler = scheduler_class(custom_config=config or TEST_CONFIG)
    scheduler.s3_client = MagicMock()
    scheduler.sns_client = MagicMock()
    scheduler.task_client = MagicMock()
    scheduler.task_client.get_labourer.return_value = Labourer(id=LABOURER, arn=ARN)
    return scheduler


@pytest.fixture
def scheduler(tmp_path):
    return make({**TEST_CONFIG, "queue_dir": str(tmp_path)})


# Module-level names --------------------------------------------------------------------------------------------


def test_global_vars_is_module_level_and_the_same_as_in_app(scheduler, lambda_context):
    assert module.global_vars is sosw.app.global_vars
    assert module.global_vars.lambda_context is lambda_context

    lambda_context.get_remaining_time_in_millis.return_value = 1000  # less than the shutdown period of 60 s
    assert scheduler.sufficient_execution_time_left is False


def test_global_vars_of_the_scheduler_is_looked_up_at_call_time(scheduler):
    short = types.SimpleNamespace(get_remaining_time_in_millis=lambda: 1000)
    with patch("sosw.scheduler.global_vars", types.SimpleNamespace(lambda_context=short)):
        assert scheduler.sufficient_execution_time_left is False


def test_plural_and_single_or_plural_module_functions():
    assert module.plural("word") == "words"
    assert module.plural("words") == "words"
    assert set(module.single_or_plural("word")) == {"word", "words"}
    assert set(module.single_or_plural("words")) == {"words", "word", "wordss"}


def test_invalid_job_importable_from_scheduler_and_an_assertion_error_for_a_job_without_lambda_name(scheduler):
    from sosw.scheduler import InvalidJob

    with pytest.raises(InvalidJob):
        scheduler.extract_job_from_payload({"job": {"words": ["a"]}})
    # The original asserted 'lambda_name' in the job, and its InvalidJob was a ValueError.
    with pytest.raises(AssertionError):
        scheduler.extract_job_from_payload({"job": {"words": ["a"]}})
    assert issubclass(InvalidJob, ValueError)


def test_unregistered_labourer_raises_runtime_error_and_writes_nothing(scheduler):
    scheduler.task_client.get_labourer.return_value = None  # what the original's TaskManager answered

    with pytest.raises(RuntimeError):
        scheduler.parse_job_to_file({"lambda_name": "unknown", "a": 1})
    scheduler.task_client.create_tasks.assert_not_called()


# Today ---------------------------------------------------------------------------------------------------------


def test_sosw_scheduler_datetime_patchable_today_looked_up_at_call_time(scheduler):
    with patch("sosw.scheduler.datetime") as mock_datetime:
        mock_datetime.date.today.return_value = TODAY
        assert scheduler.today() == ["2019-01-30"]
        assert scheduler.yesterday() == ["2019-01-29"]
        assert scheduler.last_x_days("last_3_days") == ["2019-01-27", "2019-01-28", "2019-01-29"]
        assert scheduler.previous_x_days("previous_2_days") == ["2019-01-26", "2019-01-27"]
        assert scheduler.x_days_back("7_days_back") == ["2019-01-23"]


def test_sosw_scheduler_datetime_date_patchable(scheduler):
    today = TODAY  # built before the patch replaces ``datetime.date``
    with patch("sosw.scheduler.datetime.date") as mock_date:
        mock_date.today.return_value = today
        assert scheduler.chunk_dates({"period": "last_2_days", "isolate_days": True, "a": 1}) == [
            {"a": 1, "date_list": ["2019-01-28"]}, {"a": 1, "date_list": ["2019-01-29"]}]


# Job schema ----------------------------------------------------------------------------------------------------


VARIANTS_CONFIG = {
    **TEST_CONFIG,
    "job_schema": {"chunkable_attrs": [("section", {})]},
    "job_schema_variants": {
        "default": {"chunkable_attrs": [("store", {})]},
        "by_product": {"chunkable_attrs": [("product", {})]},
    },
}
STORES_AND_PRODUCTS = {"lambda_name": LABOURER, "stores": ["s1", "s2"], "products": ["p1", "p2"]}


def test_job_schema_variants_initialize_from_job_schema_at_construction():
    scheduler = make(VARIANTS_CONFIG)

    assert scheduler.chunkable_attrs == ["section"]
    scheduler.config["job_schema"] = {"chunkable_attrs": [("product", {})]}
    scheduler.initialize_from_job_schema()
    assert scheduler.chunkable_attrs == ["product"]


def test_job_schema_variants_apply_job_schema_by_name_else_default():
    scheduler = make(VARIANTS_CONFIG)

    scheduler.apply_job_schema("by_product")
    assert scheduler.chunkable_attrs == ["product"]
    assert scheduler.config["job_schema"] == VARIANTS_CONFIG["job_schema_variants"]["by_product"]

    scheduler.apply_job_schema(None)
    assert scheduler.chunkable_attrs == ["store"]


def test_job_schema_variants_picked_by_job_schema_name_of_the_job():
    scheduler = make(VARIANTS_CONFIG)

    by_product = scheduler.construct_job_data({**STORES_AND_PRODUCTS, "job_schema_name": "by_product",
                                               "isolate_products": True})
    assert by_product == [{"stores": ["s1", "s2"], "products": ["p1"]}, {"stores": ["s1", "s2"], "products": ["p2"]}]

    # No job_schema_name: the 'default' variant, not job_schema (where stores are not chunkable).
    default = scheduler.construct_job_data({**STORES_AND_PRODUCTS, "isolate_stores": True})
    assert default == [{"stores": ["s1"], "products": ["p1", "p2"]}, {"stores": ["s2"], "products": ["p1", "p2"]}]


def test_job_schema_variants_unknown_name_raises_key_error():
    scheduler = make(VARIANTS_CONFIG)

    with pytest.raises(KeyError):
        scheduler.apply_job_schema("nope")
    with pytest.raises(KeyError):
        scheduler.construct_job_data({**STORES_AND_PRODUCTS, "job_schema_name": "nope"})


def test_chunkable_attrs_validated_at_construction():
    # The original asserted singular names in initialize_from_job_schema(), called by the constructor.
    with pytest.raises(AssertionError, match="chunkable_attrs"):
        make({**TEST_CONFIG, "job_schema": {"chunkable_attrs": [("sections", {})]}})


def test_chunkable_attrs_stay_an_assignable_attribute(scheduler):
    scheduler.chunkable_attrs = ["section", "store"]

    job = {"sections": {"s1": {"stores": ["a", "b"]}}, "isolate_stores": True}
    assert scheduler.chunk_job(job) == [{"isolate_stores": True, "sections": ["s1"], "stores": ["a"]},
                                        {"isolate_stores": True, "sections": ["s1"], "stores": ["b"]}]
    # Constructing tasks keeps the assigned attributes while the job schema does not change.
    assert len(scheduler.construct_job_data({"lambda_name": LABOURER, **job})) == 2


def test_get_next_chunkable_attr(scheduler):
    assert scheduler.get_next_chunkable_attr("section") == "store"
    assert scheduler.get_next_chunkable_attr("stores") == "product"
    assert scheduler.get_next_chunkable_attr("product") is None
    assert scheduler.get_next_chunkable_attr("unknown") is None


def test_get_isolate_attributes_from_job():
    data = {"sections": ["a"], "isolate_sections": True, "max_stores_per_batch": 3, "a": 1}
    assert Scheduler.get_isolate_attributes_from_job(data) == {"isolate_sections": True, "max_stores_per_batch": 3}


# Chunking ------------------------------------------------------------------------------------------------------


def test_needs_chunking_takes_the_singular_or_plural_name(scheduler):
    data = {"sections": {"s1": {"stores": ["a", "b"]}}, "isolate_stores": True}

    assert scheduler.needs_chunking("sections", data) is True
    assert scheduler.needs_chunking("section", data) is True
    assert scheduler.needs_chunking("stores", {"stores": ["a", "b"], "isolate_stores": True}) is True
    assert scheduler.needs_chunking("stores", {"stores": ["a", "b"]}) is False


def test_construct_job_data_keeps_the_skeleton_keys(scheduler):
    job = {"lambda_name": LABOURER, "stores": ["a", "b"], "isolate_stores": True}

    tasks = scheduler.construct_job_data(job, skeleton={"labourer_id": LABOURER})

    assert tasks == [{"stores": ["a"], "labourer_id": LABOURER}, {"stores": ["b"], "labourer_id": LABOURER}]


@pytest.mark.parametrize("flag", ["True", "true", "yes", "1"])
def test_isolate_flags_accept_truthy_text(scheduler, flag):
    job = {"lambda_name": LABOURER, "stores": ["a", "b"], "isolate_stores": flag}

    assert scheduler.construct_job_data(job) == [{"stores": ["a"]}, {"stores": ["b"]}]


# Periods -------------------------------------------------------------------------------------------------------


class WeeklyScheduler(Scheduler):
    """A Scheduler with periods of its own, named in the config as the original did."""

    def last_x_weeks(self, pattern):
        weeks = int(pattern.split("_")[1])
        return self.last_x_days(f"last_{7 * weeks}_days")

    def first_of_month(self):
        return [self.today()[0][:8] + "01"]


def test_custom_period_patterns_from_config_call_the_named_methods(tmp_path):
    scheduler = make({**TEST_CONFIG, "custom_period_patterns": ["last_[0-9]+_weeks", "first_of_month"]},
                     scheduler_class=WeeklyScheduler)

    with patch("sosw.scheduler.datetime") as mock_datetime:
        mock_datetime.date.today.return_value = TODAY
        assert scheduler.chunk_dates({"period": "last_1_weeks"}) == [{"date_list": [
            "2019-01-23", "2019-01-24", "2019-01-25", "2019-01-26", "2019-01-27", "2019-01-28", "2019-01-29"]}]
        assert scheduler.chunk_dates({"period": "first_of_month"}) == [{"date_list": ["2019-01-01"]}]


def test_custom_period_patterns_not_a_list_raise_type_error():
    with pytest.raises(TypeError, match="custom_period_patterns"):
        make({**TEST_CONFIG, "custom_period_patterns": "last_[0-9]+_weeks"}, scheduler_class=WeeklyScheduler)


# The event -----------------------------------------------------------------------------------------------------


def test_extract_job_from_payload_trims_an_arn_in_lambda_name(scheduler):
    job = scheduler.extract_job_from_payload({"job": json.dumps({"lambda_name": ARN, "a": 1})})
    assert job == {"lambda_name": LABOURER, "a": 1}

    assert scheduler.extract_job_from_payload({"lambda_name": f"{ARN}:$LATEST"})["lambda_name"] == LABOURER


# The queue file ------------------------------------------------------------------------------------------------


def test_pop_rows_from_file_returns_an_empty_list_for_a_missing_file(tmp_path):
    assert Scheduler.pop_rows_from_file(str(tmp_path / "missing.txt"), rows=3) == []


def test_pop_rows_from_file_deletes_an_emptied_file(tmp_path):
    path = tmp_path / "queue.txt"
    path.write_text("a\nb\n")

    assert Scheduler.pop_rows_from_file(str(path), rows=1) == ["a"]
    assert path.read_text() == "b\n"
    assert Scheduler.pop_rows_from_file(str(path), rows=5) == ["b"]
    assert not path.exists()


def test_local_queue_file_is_a_property_and_clean_tmp_removes_it(scheduler):
    assert isinstance(inspect.getattr_static(Scheduler, "local_queue_file"), property)
    with open(scheduler.local_queue_file, "w") as queue:
        queue.write("row\n")

    scheduler.clean_tmp()
    assert not os.path.exists(scheduler.local_queue_file)
    scheduler.clean_tmp()  # nothing to remove: no error


def test_clean_tmp_removes_a_given_file(scheduler, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("x")
    scheduler.clean_tmp(str(other))
    assert not other.exists()


def test_sns_client_and_base_query_as_in_the_original():
    assert Scheduler.sns_client is None
    assert Scheduler.base_query is ...
    scheduler = make()  # assigns a MagicMock sns_client
    scheduler.base_query = {"x": 1}
    assert isinstance(scheduler.sns_client, MagicMock)


# Against the original's tables ---------------------------------------------------------------------------------


def tasks_in_table() -> list:
    items = boto3.resource("dynamodb").Table("sosw_tasks").scan()["Items"]
    return sorted((json.loads(item["payload"]) for item in items), key=json.dumps)


def test_job_schema_variants_default_variant_applies_when_writing_tasks(original_tables, tmp_path):
    scheduler = Scheduler(custom_config={
        "queue_dir": str(tmp_path),
        "task_config": {"labourers": LABOURERS},
        "job_schema_variants": {"default": {"chunkable_attrs": [("store", {})]}},
    })

    result = scheduler({"job": {"lambda_name": ARN, "stores": ["s1", "s2"], "isolate_stores": "True"}})

    assert result["tasks_created"] == 2
    assert tasks_in_table() == [{"stores": ["s1"]}, {"stores": ["s2"]}]


def test_sosw_scheduler_datetime_patchable_when_writing_tasks(original_tables, tmp_path):
    scheduler = Scheduler(custom_config={"queue_dir": str(tmp_path), "task_config": {"labourers": LABOURERS}})

    with patch("sosw.scheduler.datetime") as mock_datetime:
        mock_datetime.date.today.return_value = TODAY
        scheduler({"job": {"lambda_name": LABOURER, "period": "last_2_days", "isolate_days": True}})

    assert tasks_in_table() == [{"date_list": ["2019-01-28"]}, {"date_list": ["2019-01-29"]}]
