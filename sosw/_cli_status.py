"""
What ``sosw status`` shows: task counts by state for every Labourer, the Essentials whose settings are refused, and
the Labourers whose Lambda retries asynchronous invocations. Also the plain text table the command line prints.
"""

import os
from typing import Any, Dict, List, Sequence

from sosw import constants

__all__ = ["STATES", "async_retry_warnings", "collect_status", "config_problems", "format_table", "status_document",
           "status_table", "status_task_manager"]

STATES = ("queued", "running", "expired", "retrying", "completed", "closed", "dead")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: List[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])


def status_task_manager() -> Any:
    """A TaskManager configured by ``sosw_essential_config``, as the Essentials are."""
    from sosw.components.config import get_config
    from sosw.managers.task import TaskManager

    essential = get_config(constants.ESSENTIAL_CONFIG_NAME)
    return TaskManager(custom_config=(essential or {}).get("task_config", {}))


def collect_status(task_manager: Any = None) -> Dict[str, Dict[str, int]]:
    """Task counts by state for every Labourer of ``sosw_essential_config``.

    :param task_manager: Reuse this one (see :func:`status_task_manager`) when asking again and again.
    """
    task_manager = task_manager or status_task_manager()
    return {labourer.id: task_manager.count_tasks_by_state(labourer)
            for labourer in task_manager.register_labourers(health=False)}


ESSENTIALS = {"sosw_orchestrator": "Orchestrator", "sosw_scavenger": "Scavenger", "sosw_scheduler": "Scheduler",
              "sosw_worker_assistant": "WorkerAssistant"}


def config_problems() -> Dict[str, str]:
    """Each Essential built from its config rows as in its own Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set to its name):
    the error of those whose settings are refused, by function name. Building reads the config rows and makes no other
    AWS call."""
    import sosw
    from sosw.exceptions import SoswError

    problems: Dict[str, str] = {}
    for function, class_name in ESSENTIALS.items():
        before = os.environ.get(constants.ENV_FUNCTION_NAME)
        os.environ[constants.ENV_FUNCTION_NAME] = function
        try:
            getattr(sosw, class_name)()
        except (SoswError, ValueError, TypeError) as err:
            problems[function] = str(err)
        finally:
            if before is None:
                os.environ.pop(constants.ENV_FUNCTION_NAME, None)
            else:
                os.environ[constants.ENV_FUNCTION_NAME] = before
    return problems


def async_retry_warnings(labourers: Sequence[Any]) -> List[str]:
    """Labourers whose function lets Lambda retry an asynchronous invocation: those retries stack on sosw's own (the
    Worker templates set ``MaximumRetryAttempts: 0``)."""
    from sosw.components._boto import make_client
    from sosw.managers.ecology import async_retry_attempts

    client = make_client("lambda")
    warnings = []
    for labourer in labourers:
        # None (e.g. a missing permission) leaves the Labourer out: it must not hide the table.
        retries = async_retry_attempts(client, getattr(labourer, "arn", None) or labourer.id)
        if retries:
            warnings.append(f"{labourer.id}: Lambda retries its asynchronous invocations {retries} time(s); set "
                            f"EventInvokeConfig MaximumRetryAttempts: 0 so they do not stack on sosw's retries")
    return warnings


def status_document(status: Dict[str, Dict[str, int]]) -> Dict[str, Dict[str, int]]:
    """``--json`` of ``sosw status``: every state of ``STATES`` for every Labourer, zeros included."""
    return {labourer: {state: counts.get(state, 0) for state in STATES} for labourer, counts in sorted(status.items())}


def status_table(status: Dict[str, Dict[str, int]]) -> str:
    rows = [[labourer] + [counts.get(state, 0) for state in STATES] for labourer, counts in sorted(status.items())]
    return format_table(("labourer",) + STATES, rows) if rows else "no Labourers configured"
