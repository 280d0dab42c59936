"""The start guard without network: the attempt in the payload, the claim as data, and the Worker's wrapper around
the ``__call__`` of its subclasses (with a claim store of our own that answers as told)."""

import inspect
import json
import threading
from typing import List

import pytest

from sosw.components._dynamo_expressions import describe_condition
from sosw.exceptions import ConfigError
from sosw.managers import _greenfield as rules
from sosw.managers._claims import ATTEMPT_KEY, Attempt, attempt_fields, claim_update, start_by
from sosw.managers._settings import FieldNames
from sosw.worker import Worker, WorkerSettings

FIELDS = FieldNames()


@pytest.mark.parametrize("event, expected", [
    ({"task_id": "t", ATTEMPT_KEY: {"number": 2, "greenfield": 100}}, Attempt("t", 2, 100)),
    ({"task_id": "t", ATTEMPT_KEY: {"number": 2, "greenfield": 100, "table": "my_tasks",
                                    "fields": {"task_id": "tid", "greenfield": "gf"}}},
     Attempt("t", 2, 100, "my_tasks", (("greenfield", "gf"), ("task_id", "tid")))),
    ({"task_id": "t", ATTEMPT_KEY: {"number": 2, "greenfield": 100, "fields": ["tid"]}}, None),
    ({"task_id": "t", ATTEMPT_KEY: {"number": 2, "greenfield": 100, "fields": {"task_id": 3}}}, None),
    ({"task_id": "t"}, None),                                              # sosw 0.7.47's payload
    ({ATTEMPT_KEY: {"number": 2, "greenfield": 100}}, None),               # no task
    ({"task_id": "t", ATTEMPT_KEY: {"number": "2", "greenfield": 100}}, None),
    ({"task_id": "t", ATTEMPT_KEY: {"number": True, "greenfield": 100}}, None),
    ({"task_id": "t", ATTEMPT_KEY: {"number": 2}}, None),
    ({"task_id": "t", ATTEMPT_KEY: [2, 100]}, None),
    ({"task_id": 7, ATTEMPT_KEY: {"number": 2, "greenfield": 100}}, None),
    ("not a dict", None),
    (None, None),
])
def test_attempt_from_event(event, expected):
    assert Attempt.from_event(event) == expected


@pytest.mark.parametrize("attempts, number", [(None, 1), (0, 1), (2, 3)])
def test_the_orchestrator_sends_the_attempt_its_invocation_counts(attempts, number):
    task = {"task_id": "t", "payload": json.dumps({"n": 1, "task_id": "user's", ATTEMPT_KEY: "user's"})}
    if attempts is not None:
        task["attempts"] = attempts

    payload = json.loads(rules.invocation_payload(FIELDS, task, attempt_fields(FIELDS, task, 500, "sosw_tasks")))

    assert payload == {"n": 1, "task_id": "t",
                       ATTEMPT_KEY: {"number": number, "greenfield": 500, "table": "sosw_tasks"}}


def test_start_by_lets_a_run_end_before_its_task_expires():
    # Invoked in the whole second 1000 (greenfield seconds), duration 60, cooldown 10: the task counts as expired
    # from the whole second 1000 + 60 + 10 + 1. A run killed at a timeout of 60 s ends before that if it starts
    # before 1011.
    assert start_by(1000, 10) == 1011
    attempt = Attempt("t", 1, 1, start_by=start_by(1000, 10))
    assert not attempt.is_late(1010.999) and attempt.is_late(1011.0) and attempt.is_late(1012)
    assert not Attempt("t", 1, 1).is_late(10 ** 10)  # an Orchestrator that sends no start_by: no limit
    event = {"task_id": "t", ATTEMPT_KEY: {"number": 1, "greenfield": 5, "start_by": 1011}}
    assert Attempt.from_event(event).start_by == 1011
    assert Attempt.from_event({**event, ATTEMPT_KEY: {"number": 1, "greenfield": 5, "start_by": "soon"}}).start_by \
        is None


def test_the_payload_names_the_renamed_fields_of_the_claim():
    fields = FieldNames.from_config({"task_id": "tid", "labourer_id": "lab", "greenfield": "greenfield"})

    attempt = attempt_fields(fields, {"tid": "t", "attempts": 1}, 500, "my_tasks")[ATTEMPT_KEY]

    assert attempt == {"number": 2, "greenfield": 500, "table": "my_tasks", "fields": {"task_id": "tid"}}
    claim = Attempt.from_event({"task_id": "t", ATTEMPT_KEY: attempt})
    assert claim.field_names(FIELDS).task_id == "tid" and claim.table == "my_tasks"
    assert Attempt("t", 1, 1).field_names(FIELDS) is FIELDS


def test_claim_update_is_conditioned_on_the_attempt():
    update = claim_update(FIELDS, Attempt("t", 2, 100), now=5)

    assert (update.table, update.key, update.values) == ("tasks", {"task_id": "t"},
                                                         {"claimed_attempt": 2, "claimed_at": 5})
    assert describe_condition(update.condition) == (
        "((((attribute_exists(task_id) AND attempts = 2) AND greenfield = 100) AND attribute_not_exists(completed_at))"
        " AND (attribute_not_exists(claimed_attempt) OR claimed_attempt < 2))")


def test_claim_update_uses_renamed_fields():
    fields = FieldNames.from_config({"task_id": "id", "greenfield": "gf", "claimed_attempt": "ca"})

    update = claim_update(fields, Attempt("t", 1, 100), now=5)

    assert update.key == {"id": "t"} and set(update.values) == {"ca", "claimed_at"}
    assert "gf = 100" in describe_condition(update.condition)


@pytest.mark.parametrize("value, expected", [(None, True), (True, True), (False, False), ("false", False)])
def test_worker_start_guard_setting(value, expected):
    config = {} if value is None else {"worker_start_guard": value}
    assert WorkerSettings.from_config(config, "w_config").start_guard is expected


def test_a_bad_worker_start_guard_fails_at_construction():
    with pytest.raises(ConfigError, match="w_config.worker_start_guard"):
        WorkerSettings.from_config({"worker_start_guard": "maybe"}, "w_config")


class AnsweringClaims:
    """A claim store that answers as told and records what it was asked."""

    table = "sosw_tasks"

    def __init__(self, answer):
        self.answer = answer
        self.asked: List[Attempt] = []

    def claim(self, attempt, now):
        self.asked.append(attempt)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class BodyWorker(Worker):
    def __call__(self, event, reset_result=True):
        self.stats["body_runs"] += 1
        self.result["rows"] = 1
        return super().__call__(event, reset_result=reset_result)


EVENT = {"task_id": "t1", ATTEMPT_KEY: {"number": 1, "greenfield": 100}}


def make_worker(answer, **config):
    worker = BodyWorker(custom_config=config, claim_store=AnsweringClaims(answer))
    worker.lambda_client = None
    worker._tell_assistant = lambda action, task_id, event_name: worker.stats.__setitem__("reports", 1)
    return worker


def test_a_refused_claim_skips_the_body_and_the_report():
    worker = make_worker(False)

    assert worker(dict(EVENT)) is None

    assert worker.stats["body_runs"] == 0 and worker.stats["reports"] == 0
    assert worker.stats["start_guard_refusals"] == 1 and worker.stats["processor_calls"] == 0
    assert worker.claim_store.asked == [Attempt("t1", 1, 100)]


def test_a_granted_claim_runs_the_body_once_and_reports():
    worker = make_worker(True)

    worker(dict(EVENT))

    assert worker.stats["body_runs"] == 1 and worker.stats["reports"] == 1 and worker.stats["processor_calls"] == 1
    assert len(worker.claim_store.asked) == 1  # the base class's __call__, reached through super(), asks nothing


def test_the_guard_is_not_asked_when_off_or_without_an_attempt():
    off = make_worker(False, worker_start_guard=False)
    off(dict(EVENT))
    plain = make_worker(False)
    plain({"task_id": "t1"})

    assert off.stats["body_runs"] == 1 and plain.stats["body_runs"] == 1
    assert off.claim_store.asked == [] and plain.claim_store.asked == []


def test_a_failing_claim_runs_the_body_unguarded():
    worker = make_worker(RuntimeError("network down"))

    worker(dict(EVENT))
    worker(dict(EVENT))

    assert worker.stats["body_runs"] == 2 and worker.stats["start_guard_errors"] == 2


def test_a_body_that_raises_leaves_the_next_invocation_guarded():
    class RaisingWorker(Worker):
        def __call__(self, event):
            raise ValueError("boom")

    worker = RaisingWorker(claim_store=AnsweringClaims(True))
    with pytest.raises(ValueError):
        worker(dict(EVENT))
    with pytest.raises(ValueError):
        worker(dict(EVENT))

    assert len(worker.claim_store.asked) == 2


def test_the_wrapped_call_keeps_its_signature_and_name():
    assert list(inspect.signature(BodyWorker.__call__).parameters) == ["self", "event", "reset_result"]
    assert list(inspect.signature(Worker.__call__).parameters) == ["self", "event", "reset_result"]
    assert BodyWorker.__call__.__qualname__ == "BodyWorker.__call__"


def test_concurrent_calls_on_one_worker_are_each_guarded():
    inside, release = threading.Event(), threading.Event()

    class BlockingWorker(Worker):
        def __call__(self, event):
            inside.set()
            release.wait(5)
            return None

    worker = BlockingWorker(claim_store=AnsweringClaims(True))
    first = threading.Thread(target=worker, args=(dict(EVENT),))
    first.start()
    assert inside.wait(5)
    second = threading.Thread(target=worker, args=(dict(EVENT),))
    second.start()
    second.join(0.5)
    release.set()
    first.join(5)
    second.join(5)

    assert len(worker.claim_store.asked) == 2  # the second call was not taken for the first one's inner call
