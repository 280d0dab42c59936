"""
The greenfield state rules, without I/O: what each change of a task writes, as data.

A task's state is its ``greenfield`` compared with the marks of the current run (see ``docs/greenfield.rst``):
queued below ``start``; invoked at ``invoked`` (= start + delta); expired below ``expired`` (= invoked − (duration +
cooldown)); completed once ``completed_at`` is set. Every function here returns the writes of one change — a
:class:`Move` of :class:`Put` / :class:`Update` / :class:`Delete` actions with their boto3 conditions, and the
:class:`Event` of the task log that goes with them — and the task store (``_task_store.py``) executes them.

.. code-block:: python

    move = invoke_move(FieldNames(), task, labourer_id='w', start=now, greenfield=now + delta)
    move.actions  # (Update(table='tasks', ...), Event(task_id=..., action='invoked', ...))
"""

import dataclasses
import json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from boto3.dynamodb.conditions import Attr, ConditionBase

from sosw.exceptions import InvalidInput, InvalidTask
from sosw.managers._settings import FieldNames

#: Largest payload we accept, leaving room under DynamoDB's 400 KB item limit for the other attributes.
MAX_PAYLOAD_BYTES = 350_000

#: Table roles: the task store knows their names.
TASKS, CLOSED, RETRY = "tasks", "closed", "retry"


@dataclasses.dataclass(frozen=True)
class Put:
    """Write ``item`` to the table of role ``table``, if ``condition`` holds."""

    table: str
    item: Dict[str, Any]
    condition: Optional[ConditionBase] = None


@dataclasses.dataclass(frozen=True)
class Update:
    """Set ``values`` and add ``increments`` on the item ``key``, if ``condition`` holds."""

    table: str
    key: Dict[str, Any]
    values: Dict[str, Any]
    increments: Dict[str, Any] = dataclasses.field(default_factory=dict)
    condition: Optional[ConditionBase] = None


@dataclasses.dataclass(frozen=True)
class Delete:
    """Delete the item ``key``, if ``condition`` holds."""

    table: str
    key: Dict[str, Any]
    condition: Optional[ConditionBase] = None


@dataclasses.dataclass(frozen=True)
class Check:
    """Write nothing; the transaction it is part of fails unless ``condition`` holds on the item ``key``."""

    table: str
    key: Dict[str, Any]
    condition: ConditionBase


@dataclasses.dataclass(frozen=True)
class Event:
    """One event of the task log (written only when the log is on)."""

    task_id: str
    action: str
    details: Dict[str, Any] = dataclasses.field(default_factory=dict)


Action = Union[Put, Update, Delete, Check, Event]


@dataclasses.dataclass(frozen=True)
class Move:
    """The writes of one task's change, applied all or none."""

    task_id: str
    actions: Tuple[Action, ...]


# Marks of a run -------------------------------------------------------------------------------------------------------


def run_marks(start: int, delta: int, duration: int, cooldown: int) -> Tuple[int, int]:
    """``(invoked, expired)`` of a run that starts at ``start``: what an invocation writes, and the line below which
    an invoked task that has not completed is expired."""
    invoked = start + delta
    return invoked, invoked - (duration + cooldown)


def head_greenfields(oldest: int, step: int, count: int) -> List[int]:
    """Greenfields for ``count`` tasks put at the head of a queue whose oldest task has ``oldest``, in order."""
    return [oldest - step * (count - position) for position in range(count)]


def tail_greenfields(newest: int, step: int, count: int) -> List[int]:
    """Greenfields for ``count`` tasks added at the end of a queue whose newest task has ``newest``, in order."""
    return [newest + step * position for position in range(1, count + 1)]


def failed_greenfield(now: int, delta: int, max_expiry_window: int) -> int:
    """Where a failed task goes: below the expiry line of any Labourer at any later run, above every run's start
    for a year, so that the next Scavenger retries it."""
    return now + delta - max_expiry_window - 1


def state_in_flight(fields: FieldNames, task: Mapping[str, Any], expired: int) -> str:
    """``completed``, ``expired`` or ``running`` for a task that left the queue."""
    if task.get(fields.completed_at) is not None:
        return "completed"
    return "expired" if task[fields.greenfield] < expired else "running"


def sort_in_flight(fields: FieldNames, tasks: Iterable[Mapping[str, Any]], expired: int) -> Dict[str, List[Any]]:
    """Tasks that left the queue, sorted into ``completed``, ``expired`` and ``running``."""
    result: Dict[str, List[Any]] = {"completed": [], "expired": [], "running": []}
    for task in tasks:
        result[state_in_flight(fields, task, expired)].append(task)
    return result


def completed_filter(fields: FieldNames, completed: Optional[bool]) -> Optional[ConditionBase]:
    """A filter on ``completed_at``: set (True), not set (False), or none (None)."""
    if completed is None:
        return None
    attr = Attr(fields.completed_at)
    return attr.exists() if completed else attr.not_exists()


def run_seconds(fields: FieldNames, task: Mapping[str, Any], delta: int) -> Optional[int]:
    """Seconds of the last run of a completed task: from its invocation (greenfield − delta) to completion."""
    completed, greenfield = task.get(fields.completed_at), task.get(fields.greenfield)
    if completed is None or greenfield is None:
        return None
    return max(int(completed) - (int(greenfield) - delta), 0)


def average_duration(fields: FieldNames, closed: Iterable[Mapping[str, Any]], max_duration: int, delta: int,
                     limit: Optional[int] = None) -> int:
    """Average seconds per attempt of the ``limit`` latest closed tasks. Lambda does not tell how long a failed
    attempt ran, so each attempt of a dead task counts as ``max_duration``. 0 without tasks."""
    latest = sorted(closed, key=lambda task: task.get(fields.closed_at) or 0, reverse=True)[:limit]
    durations: List[int] = []
    for task in latest:
        seconds = run_seconds(fields, task, delta)
        if seconds is None:
            durations.extend([int(max_duration)] * int(task.get(fields.attempts) or 0))
        else:
            durations.append(seconds)
    return round(sum(durations) / len(durations)) if durations else 0


def longest_run(fields: FieldNames, completed: Iterable[Mapping[str, Any]], delta: int) -> Optional[int]:
    """Seconds of the longest last run among completed tasks; None without any."""
    return max((seconds for seconds in (run_seconds(fields, task, delta) for task in completed)
                if seconds is not None), default=None)


def is_valid_task(fields: FieldNames, task: Any) -> bool:
    """Whether ``task`` has the fields every task has: ``task_id``, ``labourer_id`` and ``created_at``."""
    return isinstance(task, dict) and all(name in task for name in (fields.task_id, fields.labourer_id,
                                                                     fields.created_at))


def check_owner(fields: FieldNames, task: Mapping[str, Any], labourer_id: Any) -> None:
    """Refuse a task of another Labourer.

    :raises InvalidTask: (an ``AssertionError``) it belongs to another Labourer.
    """
    owner = task.get(fields.labourer_id)
    if str(owner) != str(labourer_id):
        raise InvalidTask(f"belongs to {owner!r}, not to Labourer {labourer_id!r}", field=fields.labourer_id,
                          value=owner)


# Creating -------------------------------------------------------------------------------------------------------------


def build_payload(**kwargs: Any) -> str:
    """One JSON payload of the keyword arguments; a ``payload`` argument (dict or JSON text) is the base.

    :raises InvalidInput: Not a JSON object, or larger than :data:`MAX_PAYLOAD_BYTES`.
    """
    payload = kwargs.pop("payload", None)
    if payload is None:
        base: Any = {}
    elif isinstance(payload, str):
        try:
            base = json.loads(payload)
        except ValueError as err:
            raise InvalidInput(f"not valid JSON ({err})", field="payload") from None
    else:
        base = payload
    if not isinstance(base, dict):
        raise InvalidInput(f"expected a JSON object, got {type(base).__name__}", field="payload")
    text = json.dumps({**base, **kwargs}, default=str)
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(f"{len(text.encode())} bytes is more than {MAX_PAYLOAD_BYTES}", field="payload")
    return text


def new_task(fields: FieldNames, task_id: str, labourer_id: str, created_at: int, greenfield: int, payload: str,
             extra: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The item of a new queued task."""
    task = {fields.task_id: task_id, fields.labourer_id: labourer_id, fields.created_at: created_at,
            fields.greenfield: greenfield, fields.attempts: 0, fields.payload: payload}
    task.update(extra or {})
    return task


def create_move(fields: FieldNames, task: Dict[str, Any], labourer_id: str) -> Move:
    """Queue a new task, with its ``created`` event."""
    task_id = task[fields.task_id]
    return Move(task_id, (Put(TASKS, task), Event(task_id, "created", {"labourer_id": labourer_id})))


def invocation_payload(fields: FieldNames, task: Mapping[str, Any],
                       extra: Optional[Mapping[str, Any]] = None) -> bytes:
    """What the Worker receives: the task's payload plus ``extra`` (the attempt, for the Worker's start guard: see
    ``_claims.py``) and its ``task_id``."""
    payload = task.get(fields.payload) or {}
    if isinstance(payload, str):
        payload = json.loads(payload)
    return json.dumps({**payload, **(extra or {}), "task_id": task[fields.task_id]}).encode()


# Invoking -------------------------------------------------------------------------------------------------------------


def invoke_move(fields: FieldNames, task: Mapping[str, Any], labourer_id: str, start: int, greenfield: int) -> Move:
    """Take a queued task (only if it is still as read, and queued) to ``greenfield``, counting the attempt."""
    task_id = task[fields.task_id]
    condition = (Attr(fields.greenfield).eq(task[fields.greenfield]) & Attr(fields.greenfield).lt(start)
                 & Attr(fields.completed_at).not_exists())
    attempt = int(task.get(fields.attempts) or 0) + 1
    return Move(task_id, (
        Update(TASKS, {fields.task_id: task_id}, {fields.greenfield: greenfield}, {fields.attempts: 1}, condition),
        Event(task_id, "invoked", {"labourer_id": labourer_id, "attempt": attempt}),
    ))


def mark_invoked_move(fields: FieldNames, task: Mapping[str, Any], labourer_id: str, start: Optional[int],
                      greenfield: int) -> Move:
    """sosw 0.7.47's single-task invocation mark: one update, conditioned (unless ``start`` is None) on the task
    being queued at the run that starts at ``start``, which also keeps a missing task from being created."""
    task_id = task[fields.task_id]
    condition = None if start is None else Attr(fields.greenfield).lt(start)
    attempt = int(task.get(fields.attempts) or 0) + 1
    return Move(task_id, (
        Update(TASKS, {fields.task_id: task_id}, {fields.greenfield: greenfield}, {fields.attempts: 1}, condition),
        Event(task_id, "invoked", {"labourer_id": labourer_id, "attempt": attempt}),
    ))


def undo_invoke_move(fields: FieldNames, task_id: str, labourer_id: str, old_greenfield: Any, greenfield: int,
                     error: str) -> Move:
    """Put a task whose invocation Lambda refused back where it was, unless it changed since."""
    condition = Attr(fields.greenfield).eq(greenfield) & Attr(fields.completed_at).not_exists()
    return Move(task_id, (
        Update(TASKS, {fields.task_id: task_id}, {fields.greenfield: old_greenfield}, {fields.attempts: -1},
               condition),
        Event(task_id, "invoke_failed", {"labourer_id": labourer_id, "error": error[:1000]}),
    ))


# Reports of Workers ---------------------------------------------------------------------------------------------------


def report_values(stats: Optional[Mapping[str, Any]], result: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """``stat_<k>`` and ``result_<k>`` attributes of a Worker's report (None values left out)."""
    values = {f"stat_{k}": v for k, v in (stats or {}).items() if v is not None}
    values.update({f"result_{k}": v for k, v in (result or {}).items() if v is not None})
    return values


def _report_condition(fields: FieldNames, now: int) -> ConditionBase:
    # Only a task that left the queue (its greenfield is above now) takes a report: a queued task marked
    # completed could never be invoked nor archived.
    return (Attr(fields.task_id).exists() & Attr(fields.completed_at).not_exists()
            & Attr(fields.greenfield).gte(now))


def completion_update(fields: FieldNames, task_id: str, values: Mapping[str, Any], now: int) -> Update:
    """Mark an invoked task completed (``values`` carry its ``completed_at``). Its ``completed`` event is logged
    when it is archived, with its ``completed_at``: that saves a call per task on the hottest write of its life."""
    return Update(TASKS, {fields.task_id: task_id}, dict(values), condition=_report_condition(fields, now))


def failure_move(fields: FieldNames, task_id: str, values: Mapping[str, Any], now: int, greenfield: int) -> Move:
    """Record a failed attempt of an invoked task and make it expired at once (at ``greenfield``)."""
    return Move(task_id, (
        Update(TASKS, {fields.task_id: task_id}, {**values, fields.greenfield: greenfield},
               {fields.failed_attempts: 1}, _report_condition(fields, now)),
        Event(task_id, "failed"),
    ))


def late_completion_update(fields: FieldNames, task: Mapping[str, Any], values: Mapping[str, Any],
                           greenfield: int) -> Update:
    """A completion that arrives after the task went back to the queue: the work is done, so it leaves the queue
    as if invoked now (at ``greenfield``), for the Scavenger to archive."""
    condition = Attr(fields.greenfield).eq(task[fields.greenfield]) & Attr(fields.completed_at).not_exists()
    return Update(TASKS, {fields.task_id: task[fields.task_id]}, {**values, fields.greenfield: greenfield},
                  condition=condition)


def retry_completion_move(fields: FieldNames, task: Mapping[str, Any], values: Mapping[str, Any], now: int) -> Move:
    """Close as completed (``<labourer>_1``) a task that waits in the retry table: its work is done. Deleted from the
    retry table if it is still there, put in the closed tasks if it is not there yet: a Scavenger that returns it to
    the queue at the same moment makes this move fail, and the completion is tried again on the queued task."""
    task_id, labourer_id = task[fields.task_id], task[fields.labourer_id]
    closed = {k: v for k, v in task.items() if k != fields.desired_launch_time}
    closed.update({**values, fields.completed_at: now, fields.closed_at: now,
                   fields.labourer_id_task_status: f"{labourer_id}_1"})
    return Move(task_id, (
        Delete(RETRY, {fields.labourer_id: labourer_id, fields.task_id: task_id}, Attr(fields.task_id).exists()),
        Put(CLOSED, closed, Attr(fields.task_id).not_exists()),
        Event(task_id, "completed", {"completed_at": now, "labourer_id": labourer_id}),
        Event(task_id, "archived", {"labourer_id": labourer_id}),
    ))


def dead_completion_move(fields: FieldNames, task: Mapping[str, Any], values: Mapping[str, Any], now: int) -> Move:
    """Re-close as completed (``<labourer>_1``) a task closed as dead (``<labourer>_0``): a run succeeded after all.
    Only if it is still closed as dead, so that two completions close it once."""
    task_id, labourer_id = task[fields.task_id], task[fields.labourer_id]
    status = fields.labourer_id_task_status
    return Move(task_id, (
        Update(CLOSED, {fields.task_id: task_id}, {**values, fields.completed_at: now, fields.closed_at: now,
                                                    status: f"{labourer_id}_1"},
               condition=Attr(status).eq(f"{labourer_id}_0") & Attr(fields.completed_at).not_exists()),
        Event(task_id, "completed", {"completed_at": now, "labourer_id": labourer_id}),
        Event(task_id, "archived", {"labourer_id": labourer_id}),
    ))


# Dispatch leases ------------------------------------------------------------------------------------------------------

#: The ``task_id`` of a Labourer's dispatch lease in the tasks table is this prefix + the Labourer's id. The item has
#: no ``labourer_id`` nor ``greenfield``, so it is in no index: no query of tasks ever sees it.
LEASE_PREFIX = "sosw_dispatch_lease#"
LEASE_OWNER, LEASE_EXPIRES_AT = "lease_owner", "lease_expires_at"


def lease_acquire(fields: FieldNames, labourer_id: str, owner: str, now: int, seconds: int) -> Update:
    """Take the Labourer's dispatch lease for ``seconds``: only if nobody holds it, or its holder's time is up."""
    return Update(TASKS, {fields.task_id: f"{LEASE_PREFIX}{labourer_id}"},
                  {LEASE_OWNER: owner, LEASE_EXPIRES_AT: now + seconds},
                  condition=Attr(fields.task_id).not_exists() | Attr(LEASE_EXPIRES_AT).lt(now))


def lease_check(fields: FieldNames, labourer_id: str, owner: str) -> Check:
    """The guard of a dispatch made under the Labourer's lease: ``owner`` still holds it. A holder whose lease
    expired and was taken by another dispatcher marks nothing more."""
    return Check(TASKS, {fields.task_id: f"{LEASE_PREFIX}{labourer_id}"}, Attr(LEASE_OWNER).eq(owner))


def lease_renew(fields: FieldNames, labourer_id: str, owner: str, now: int, seconds: int) -> Update:
    """Extend the Labourer's dispatch lease by ``seconds`` from ``now``, if ``owner`` still holds it."""
    return Update(TASKS, {fields.task_id: f"{LEASE_PREFIX}{labourer_id}"}, {LEASE_EXPIRES_AT: now + seconds},
                  condition=Attr(LEASE_OWNER).eq(owner))


def lease_release(fields: FieldNames, labourer_id: str, owner: str) -> Delete:
    """Give the Labourer's dispatch lease back, if ``owner`` still holds it."""
    return Delete(TASKS, {fields.task_id: f"{LEASE_PREFIX}{labourer_id}"}, Attr(LEASE_OWNER).eq(owner))


# Archiving and retrying -----------------------------------------------------------------------------------------------


def archive_move(fields: FieldNames, task: Mapping[str, Any], dead: bool, now: int) -> Move:
    """Move a task to the closed tasks as completed (``<labourer>_1``) or dead (``<labourer>_0``): a completed one
    if it is still completed, a dead one if it is still as read and not completed."""
    task_id, labourer_id = task[fields.task_id], task[fields.labourer_id]
    closed = {**task, fields.closed_at: now, fields.labourer_id_task_status: f"{labourer_id}_{0 if dead else 1}"}
    condition: ConditionBase
    if dead:
        condition = Attr(fields.greenfield).eq(task[fields.greenfield]) & Attr(fields.completed_at).not_exists()
    else:
        condition = Attr(fields.completed_at).exists()
    actions: List[Action] = [Put(CLOSED, closed, Attr(fields.task_id).not_exists()),
                             Delete(TASKS, {fields.task_id: task_id}, condition)]
    if task.get(fields.completed_at) is not None:
        actions.append(Event(task_id, "completed", {"completed_at": task[fields.completed_at],
                                                    "labourer_id": labourer_id}))
    actions.append(Event(task_id, "archived_dead" if dead else "archived", {"labourer_id": labourer_id}))
    return Move(task_id, tuple(actions))


def retry_table_move(fields: FieldNames, task: Mapping[str, Any], delay: int, now: int) -> Move:
    """Move an expired task (still as read, not completed) to the retry table, due at ``now + delay``."""
    task_id = task[fields.task_id]
    condition = Attr(fields.greenfield).eq(task[fields.greenfield]) & Attr(fields.completed_at).not_exists()
    return Move(task_id, (
        Put(RETRY, {**task, fields.desired_launch_time: now + int(delay)}, Attr(fields.task_id).not_exists()),
        Delete(TASKS, {fields.task_id: task_id}, condition),
        Event(task_id, "moved_to_retry", {"labourer_id": task[fields.labourer_id], "delay": int(delay)}),
    ))


def requeue_move(fields: FieldNames, task: Mapping[str, Any], labourer_id: str, greenfield: int) -> Move:
    """Return a task from the retry table to the queue at ``greenfield``."""
    task_id = task[fields.task_id]
    item = {k: v for k, v in task.items() if k != fields.desired_launch_time}
    item[fields.greenfield] = greenfield
    return Move(task_id, (
        Put(TASKS, item, Attr(fields.task_id).not_exists()),
        Delete(RETRY, {fields.labourer_id: labourer_id, fields.task_id: task_id}, Attr(fields.task_id).exists()),
        Event(task_id, "retried", {"labourer_id": labourer_id}),
    ))


def requeue_moves(fields: FieldNames, tasks: Sequence[Mapping[str, Any]], labourer_id: str, oldest: int,
                  step: int) -> List[Move]:
    """Return tasks from the retry table to the head of the queue, in the order given."""
    return [requeue_move(fields, task, labourer_id, greenfield)
            for task, greenfield in zip(tasks, head_greenfields(oldest, step, len(tasks)))]
