"""
The __worker_name__ Worker of sosw. The Orchestrator invokes it with one task: a chunk of a job plus ``task_id``,
e.g. ``{"words": ["alpha"], "task_id": "..."}`` for the job in ``config/task.json``.

Put the work of one chunk in ``Processor.__call__``; what it stores in ``self.result`` reaches the closed task as
``result_<key>``, and ``self.stats`` reaches the task's stats.
"""

from typing import Any, Dict, List

from sosw.app import LambdaGlobals, get_lambda_handler
from sosw.worker import Worker


def count_letters(words: List[str], multiplier: int = 1) -> int:
    """The work of this example: letters in the words, times ``multiplier``. Kept free of AWS to be tested alone.

    :param words: The words of the task.
    :param multiplier: From the config row ``__worker_name___config`` (``config/self.json``).
    """
    return multiplier * sum(len(word) for word in words)


class Processor(Worker):
    """Counts the letters of the task's words and reports the task completed to the WorkerAssistant."""

    DEFAULT_CONFIG: Dict[str, Any] = {**Worker.DEFAULT_CONFIG, "multiplier": 1}

    def __call__(self, event: Dict[str, Any]) -> Any:
        words = event.get("words") or []
        self.result["letters"] = count_letters(words, self.config["multiplier"])
        self.stats["words_counted"] += len(words)
        return super().__call__(event)  # with a task_id: tells the WorkerAssistant the task is completed


global_vars = LambdaGlobals()
lambda_handler = get_lambda_handler(Processor, global_vars)
