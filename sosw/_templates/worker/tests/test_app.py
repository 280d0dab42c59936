"""Unit tests: the Worker's logic and what it reports, with a recording stand-in for the Lambda client (no AWS)."""

import json
from typing import Any, Dict, List

from app import Processor, count_letters


class RecordingLambda:
    """Keeps every ``invoke`` call instead of making it."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> Dict[str, Any]:
        self.calls.append({**kwargs, "Payload": json.loads(kwargs["Payload"])})
        return {"StatusCode": 202}


def test_count_letters_multiplies():
    assert count_letters(["alpha", "be"]) == 7
    assert count_letters(["alpha", "be"], multiplier=3) == 21
    assert count_letters([]) == 0


def test_a_task_is_reported_completed_with_its_result():
    processor = Processor(custom_config={"multiplier": 2})
    processor.lambda_client = RecordingLambda()

    processor({"words": ["alpha"], "task_id": "t1"})

    [call] = processor.lambda_client.calls
    assert call["FunctionName"] == "sosw_worker_assistant" and call["InvocationType"] == "Event"
    assert call["Payload"]["action"] == "mark_task_as_completed" and call["Payload"]["task_id"] == "t1"
    assert call["Payload"]["result"] == {"letters": 10}
    assert call["Payload"]["stats"]["words_counted"] == 1


def test_an_event_without_task_id_reports_nothing():
    processor = Processor()
    processor.lambda_client = RecordingLambda()
    processor({"words": ["alpha"]})
    assert processor.lambda_client.calls == []
