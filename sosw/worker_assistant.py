"""
WorkerAssistant: the Essential that Workers call to report on their tasks.

Event: ``{'action': 'mark_task_as_completed' | 'mark_task_as_failed', 'task_id': '...', 'stats'?: {}, 'result'?: {}}``.
"""

import json
import logging
from typing import Any, Dict, Optional

from sosw.essential import Essential
from sosw.exceptions import InvalidEvent, TaskNotFound

logger = logging.getLogger(__name__)


class WorkerAssistant(Essential):
    """Marks tasks completed (or failed) when Workers report back.

    A report for a task that is no longer in ``sosw_tasks`` (archived or moved to retry meanwhile) writes
    nothing and answers ``{'status': 'not_found'}``: the original created an orphan row instead.
    """

    DEFAULT_CONFIG: Dict[str, Any] = {"init_clients": ["Task"]}
    ACTIONS = ("mark_task_as_completed", "mark_task_as_failed")

    def __call__(self, event: Any) -> Dict[str, Any]:
        if isinstance(event, (str, bytes)):
            try:
                event = json.loads(event)
            except ValueError as err:
                raise InvalidEvent(f"not valid JSON ({err})", field="event") from None
        if not isinstance(event, dict):
            raise InvalidEvent(f"expected an object, got {type(event).__name__}", field="event")
        action = event.get("action")
        if action not in self.ACTIONS:
            raise InvalidEvent(f"unsupported {action!r}; use one of {self.ACTIONS}", field="action", value=action)
        task_id = event.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise InvalidEvent(f"expected a non-empty string, got {task_id!r}", field="task_id", value=task_id)
        for field in ("stats", "result"):
            if event.get(field) is not None and not isinstance(event[field], dict):
                raise InvalidEvent(f"expected an object, got {type(event[field]).__name__}", field=field)
        status = getattr(self, action)(task_id, stats=event.get("stats"), result=event.get("result"))
        super().__call__(event)
        return {"task_id": task_id, "status": status}

    def _report(self, task_id: str, stats: Optional[Dict], result: Optional[Dict], outcome: str) -> str:
        try:
            status = self.task_client.report_task(task_id, outcome, stats=stats, result=result)
        except TaskNotFound:
            self.stats["reports_for_missing_tasks"] += 1
            logger.warning("%s report for task %s, which is no longer in the tasks table; nothing written", outcome,
                           task_id)
            return "not_found"
        self.stats[f"tasks_{status}"] += 1
        return status

    def mark_task_as_completed(self, task_id: str, stats: Optional[Dict] = None, result: Optional[Dict] = None) -> str:
        """Mark the task completed.

        :return: ``'completed'``, ``'already_completed'`` or ``'not_found'``.
        """
        return self._report(task_id, stats, result, "completed")

    def mark_task_as_failed(self, task_id: str, stats: Optional[Dict] = None, result: Optional[Dict] = None) -> str:
        """Record a failed attempt; the Scavenger retries it at its next run.

        :return: ``'failed'``, ``'already_completed'``, ``'unchanged'`` (back in the queue) or ``'not_found'``.
        """
        return self._report(task_id, stats, result, "failed")
